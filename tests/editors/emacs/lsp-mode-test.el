;;; lsp-mode-test.el --- Emacs batch test: lsp-mode drives the real aiex binary  -*- lexical-binding: t; -*-

;; AIEX_BIN=target/debug/aiex emacs --batch -q -l tests/editors/emacs/lsp-mode-test.el
;;
;; Needs Debian's elpa-lsp-mode.  aiex is registered as an add-on client; the
;; built-in ElixirLS client is disabled here because ElixirLS is not installed.

(load (expand-file-name "helpers.el" (file-name-directory (or load-file-name buffer-file-name))) nil t)
(setq aiex-test-prefix "emacs/lsp-mode")

(setq lsp-session-file (expand-file-name (format "aiex-lsp-session-%d" (emacs-pid)) temporary-file-directory)
      lsp-auto-guess-root t
      lsp-enable-file-watchers nil
      lsp-restart 'ignore
      lsp-keep-workspace-alive nil
      lsp-enable-snippet nil
      lsp-response-timeout aiex-test-timeout
      lsp-disabled-clients '(elixir-ls elixirls)
      ;; UI extras that batch mode has no use for (and whose modules are not loaded).
      lsp-modeline-workspace-status-enable nil
      lsp-modeline-code-actions-enable nil
      lsp-modeline-diagnostics-enable nil
      lsp-headerline-breadcrumb-enable nil
      lsp-lens-enable nil
      lsp-completion-enable nil)
(require 'aiex-lsp)
;; lsp-mode's own shutdown waits on timers that batch mode runs late (2 s
;; "Timeout while sending shutdown request" each): end the process directly.
(setq aiex-test-shutdown
      (lambda () (dolist (ws (lsp-workspaces)) (delete-process (lsp--workspace-proc ws)))))

(aiex-test-check "a missing binary keeps aiex from activating"
  (let ((aiex-server-program "/nonexistent/aiex")
        (client (gethash 'aiex lsp-clients)))
    (unless client (error "The aiex client is not registered with lsp-mode"))
    (when (funcall (plist-get (lsp--client-new-connection client) :test?))
      (error "lsp-mode would start aiex although the binary does not exist"))))

(aiex-test-check "the client capabilities name the minimum server version"
  (let* ((client (gethash 'aiex lsp-clients))
         (capabilities (lsp--client-capabilities (lsp--client-custom-capabilities client)))
         (experimental (json-parse-string (json-serialize (alist-get 'experimental capabilities))
                                          :object-type 'plist)))
    (unless (equal (plist-get (plist-get experimental :aiex) :minimumServerVersion)
                   aiex-minimum-server-version)
      (error "experimental capabilities: %S" experimental))))

(unless (file-executable-p aiex-test-bin)
  (aiex-test-check "aiex binary"
    (error "No executable at %s: build it (cargo build) or set AIEX_BIN" aiex-test-bin))
  (aiex-test-finish))

(setq aiex-server-program aiex-test-bin)
(let ((settings (getenv "AIEX_TEST_SETTINGS")))
  (when (and settings (not (string-empty-p settings)))
    (setq aiex-settings (json-parse-string settings :object-type 'plist :array-type 'array))))
(add-hook 'project-find-functions #'aiex-project-try-mix)
(find-file (expand-file-name "lib/greeter.ex" aiex-test-project))
(elixir-mode)

(defvar aiex-test-workspace nil)

(aiex-test-check "attaches as an add-on client at the mix project root"
  (lsp)
  (with-timeout (aiex-test-timeout (error "No initialized workspace within %ss" aiex-test-timeout))
    (while (not (and (setq aiex-test-workspace (car (lsp-workspaces)))
                     (eq (lsp--workspace-status aiex-test-workspace) 'initialized)))
      (accept-process-output nil 0.05)))
  (unless (eq (lsp--client-server-id (lsp--workspace-client aiex-test-workspace)) 'aiex)
    (error "The workspace's client is %S" (lsp--client-server-id (lsp--workspace-client aiex-test-workspace))))
  (let ((root (file-name-as-directory (lsp-workspace-root))))
    (unless (equal root aiex-test-project)
      (error "Workspace root is %s, expected %s" root aiex-test-project))))

(unless (and aiex-test-workspace (eq (lsp--workspace-status aiex-test-workspace) 'initialized))
  (aiex-test-finish))

(aiex-test-check "the server accepts the configuration without complaint"
  (aiex-test-check-no-complaint))

(aiex-test-check "documentSymbol lists the module and its functions"
  (let* ((symbols (lsp-request "textDocument/documentSymbol"
                               `(:textDocument ,(lsp--text-document-identifier))))
         (module (car (append symbols nil)))
         (children (mapcar (lambda (c) (replace-regexp-in-string "[/ (].*" "" (gethash "name" c)))
                           (append (gethash "children" module) nil))))
    (unless (equal (gethash "name" module) "Greeter")
      (error "First symbol is %S, expected Greeter" (gethash "name" module)))
    (dolist (want '("greet" "greet_all" "format_name"))
      (unless (member want children) (error "%s missing from Greeter's children: %S" want children)))))

(aiex-test-check "hover on a call shows the callee's @spec and @doc"
  (aiex-test-goto "fn name -> greet(name)" "greet(")
  (let* ((hover (lsp-request "textDocument/hover" (lsp--text-document-position-params)))
         (contents (and hover (gethash "contents" hover)))
         (text (cond ((hash-table-p contents) (gethash "value" contents))
                     ((stringp contents) contents))))
    (unless text (error "No hover at line %d" (line-number-at-pos)))
    (unless (string-match-p "Returns a greeting" text) (error "Hover lacks greet's @doc:\n%s" text))
    (unless (string-match-p (regexp-quote "String.t()") text) (error "Hover lacks greet's @spec:\n%s" text))))

(aiex-test-check "completion through lsp-mode returns the fake provider's suggestion"
  (cond
   ((not (getenv "AIEX_TEST_SETTINGS"))
    '(skip "AIEX_TEST_SETTINGS (a fake provider) not set; run.sh sets it"))
   ((not (lsp--capability "completionProvider"))
    '(skip "the server does not offer completion yet"))
   (t
    (aiex-test-goto "defp format_name(name) do" "defp")
    (beginning-of-line)
    (let ((start (point)))
      (insert "  \n\n")
      (goto-char (+ start 2))
      (unwind-protect
          (let* ((answer (lsp-request "textDocument/completion" (lsp--text-document-position-params)))
                 (items (append (if (hash-table-p answer) (gethash "items" answer) answer) nil))
                 (texts (mapcar (lambda (i) (or (let ((edit (gethash "textEdit" i))) (and edit (gethash "newText" edit)))
                                                (gethash "insertText" i) (gethash "label" i)))
                                items)))
            (unless items (error "No completion item"))
            (unless (cl-some (lambda (text) (string-match-p "farewell" text)) texts)
              (error "No item carries the fake provider's text: %S" texts)))
        (delete-region start (+ start 4)))))))

(defun aiex-test-wait (what pred)
  "Process output until PRED returns non-nil (returned), or fail saying WHAT did not happen."
  (let ((deadline (+ (float-time) aiex-test-timeout)) result)
    (while (and (not (setq result (funcall pred))) (< (float-time) deadline))
      (accept-process-output nil 0.02))
    (or result (error "%s within %ss; last message: %s" what aiex-test-timeout (car aiex-test-messages)))))

(defun aiex-test-chat-turn (message &optional beg end)
  "Ask MESSAGE (on BEG..END) with aiex-chat and wait for the answer; return the result."
  (let ((before aiex-chat-last-result))
    (aiex-chat message beg end)
    (aiex-test-wait "No chat answer"
                    (lambda () (and (null aiex-chat--pending) (not (eq aiex-chat-last-result before)))))
    aiex-chat-last-result))

(defvar aiex-test-chat-session nil)

(defun aiex-test-apply-farewell ()
  "Ask for a farewell function, apply the proposed edit, wait for it; return the text before."
  (let ((original (buffer-string))
        (result (aiex-test-chat-turn "Add a farewell function")))
    (unless (plist-get result :proposals) (error "No proposed edit: %S" result))
    (aiex-chat-apply)
    (aiex-test-wait "The edit was not applied" (lambda () (string-match-p "def farewell" (buffer-string))))
    (aiex-test-wait "The chat buffer does not say the edit was applied"
                    (lambda () (with-current-buffer aiex-chat-buffer-name
                                 (string-match-p "^> Edit [0-9]+ applied (checkpoint" (buffer-string)))))
    original))

(aiex-test-check "aiex-chat through lsp-mode streams the answer and continues the session on a region"
  (if (not (getenv "AIEX_TEST_SETTINGS"))
      '(skip "AIEX_TEST_SETTINGS (a fake provider) not set; run.sh sets it")
    (let* ((first (aiex-test-chat-turn "What does this module do?"))
           (deltas aiex-chat-deltas)
           (second (aiex-test-chat-turn "And these lines?"
                                        (save-excursion (goto-char (point-min)) (forward-line 9) (point))
                                        (save-excursion (goto-char (point-min)) (forward-line 12) (point))))
           (text (with-current-buffer aiex-chat-buffer-name (buffer-string))))
      (unless (>= deltas 1) (error "No aiex/chatDelta reached the chat buffer"))
      (unless (string-match-p "trims and capitalizes the name, then says hello" text)
        (error "No answer in the chat buffer:\n%s" text))
      (unless (and (integerp (plist-get first :sessionId))
                   (equal (plist-get second :sessionId) (plist-get first :sessionId))
                   (eql (plist-get second :turn) 2))
        (error "The second turn did not continue the session: %S then %S" first second))
      (unless (equal (plist-get (aref (plist-get second :context) 0) :reason) "selection")
        (error "The region was not the context: %S" (plist-get second :context)))
      (unless (string-match-p "^## You (lines 10-12)$" text) (error "No heading for lines 10-12:\n%s" text))
      (setq aiex-test-chat-session (plist-get first :sessionId)))))

(aiex-test-check "aiex-chat-apply through lsp-mode applies the proposed edit, aiex-undo restores the buffer"
  (if (not aiex-test-chat-session)
      '(skip "the first chat turn did not complete")
    (let ((original (aiex-test-apply-farewell)))
      (aiex-undo)
      (aiex-test-wait "The buffer is not back to its text before the edit"
                      (lambda () (equal (buffer-string) original))))))

(aiex-test-check "aiex-checkpoints through lsp-mode shows the applied edit, aiex-restore-checkpoint restores the buffer"
  (if (not aiex-test-chat-session)
      '(skip "the first chat turn did not complete")
    (let ((source (current-buffer))
          (original (aiex-test-apply-farewell)))
      ;; The pick list: the newest checkpoint, the one the edit just took.
      (cl-letf (((symbol-function 'completing-read) (lambda (_prompt collection &rest _) (caar collection))))
        (aiex-checkpoints)
        (aiex-test-expect-farewell-diff (aiex-test-wait "No comparison shown" #'aiex-test-shown-comparison))
        (with-current-buffer source (aiex-restore-checkpoint))
        (aiex-test-wait "The buffer is not back to its text before the edit"
                        (lambda () (equal (with-current-buffer source (buffer-string)) original)))))))

(aiex-test-check "aiex-chat-stop through lsp-mode cancels the turn in flight"
  (if (not aiex-test-chat-session)
      '(skip "the first chat turn did not complete")
    (let ((turn (aiex-chat "Tell me more"))
          (cancels nil))
      (cl-letf* ((notify (symbol-function 'lsp-notify))
                 ((symbol-function 'lsp-notify)
                  (lambda (method params)
                    (when (equal method "$/cancelRequest") (push (plist-get params :id) cancels))
                    (funcall notify method params))))
        (aiex-chat-stop))
      (unless (equal cancels (list (car (aiex-chat--turn-handle turn))))
        (error "Expected one $/cancelRequest for request %S, sent %S" (car (aiex-chat--turn-handle turn)) cancels))
      (let ((deadline (+ (float-time) 0.5))) (while (< (float-time) deadline) (accept-process-output nil 0.02)))
      (unless (string-suffix-p "_(stopped)_\n" (with-current-buffer aiex-chat-buffer-name (buffer-string)))
        (error "The stopped turn's answer still reached the buffer")))))

(aiex-test-finish)
;;; lsp-mode-test.el ends here
