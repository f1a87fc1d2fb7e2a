;;; chat-test.el --- Emacs batch test: aiex-chat through Eglot against the real aiex binary  -*- lexical-binding: t; -*-

;; AIEX_BIN=target/debug/aiex AIEX_TEST_SETTINGS=... emacs --batch -q -l tests/editors/emacs/chat-test.el
;;
;; run.sh sets AIEX_TEST_SETTINGS to the fake provider (tests/editors/fake_provider.py), which
;; answers chat questions and proposes an edit (farewell/1) when asked for a farewell.  A chat
;; turn streams `aiex/chatDelta' into *aiex-chat*, a second turn on a region continues the
;; session, the proposal is applied to the file's buffer and undone byte-identically, a turn
;; in flight is stopped, and errors are shown.  Prints one "ok"/"not ok"/"skip" line per check.

(load (expand-file-name "helpers.el" (file-name-directory (or load-file-name buffer-file-name))) nil t)
(setq aiex-test-prefix "emacs chat")
(aiex-test-use-eglot)

(defun aiex-test-wait (what pred &optional seconds)
  "Process output until PRED returns non-nil (returned), or fail saying WHAT did not happen."
  (let ((deadline (+ (float-time) (or seconds aiex-test-timeout)))
        result)
    (while (and (not (setq result (funcall pred))) (< (float-time) deadline))
      (accept-process-output nil 0.02))
    (or result
        (error "%s within %ss; last message: %s" what (or seconds aiex-test-timeout)
               (car aiex-test-messages)))))

(defun aiex-test-chat-text ()
  (with-current-buffer aiex-chat-buffer-name (buffer-substring-no-properties (point-min) (point-max))))

(defun aiex-test-chat-turn (thunk)
  "Run THUNK, which starts a chat turn, and wait for its answer; return the result."
  (let ((before aiex-chat-last-result))
    (funcall thunk)
    (aiex-test-wait "No answer"
                    (lambda () (and (null aiex-chat--pending) (not (eq aiex-chat-last-result before)))))
    aiex-chat-last-result))

(defun aiex-test-count (regexp text)
  (let ((n 0) (start 0))
    (while (string-match regexp text start) (setq n (1+ n) start (match-end 0)))
    n))

(defun aiex-test-farewell-turn ()
  "Ask for a farewell function from the Elixir buffer: the answer, which proposes an edit."
  (switch-to-buffer aiex-test-source)
  (let ((result (aiex-test-chat-turn (lambda () (aiex-chat "Add a farewell function")))))
    (unless (> (length (plist-get result :proposals)) 0) (error "No proposed edit: %S" result))
    result))

(defun aiex-test-wait-farewell ()
  "Wait until the farewell edit is in the Elixir buffer."
  (aiex-test-wait "The edit was not applied"
                  (lambda () (string-match-p "def farewell" (with-current-buffer aiex-test-source (buffer-string))))))

(aiex-test-check "aiex-chat with no aiex server running says how to start one"
  (let ((msg (condition-case e (progn (aiex-chat "hello") nil) (user-error (cadr e)))))
    (unless (and msg (string-match-p "Aiex is not running" msg) (string-match-p "eglot" msg))
      (error "Expected a user-error saying aiex is not running, got %S" msg))
    (when (get-buffer aiex-chat-buffer-name) (error "A chat buffer was made anyway"))))

(unless (file-executable-p aiex-test-bin)
  (aiex-test-check "aiex binary"
    (error "No executable at %s: build it (cargo build) or set AIEX_BIN" aiex-test-bin))
  (aiex-test-finish))

(unless (getenv "AIEX_TEST_SETTINGS")
  (aiex-test-check "chat against the fake provider"
    '(skip "AIEX_TEST_SETTINGS (a fake provider) not set; run.sh sets it"))
  (aiex-test-finish))

(setq aiex-server-program aiex-test-bin
      aiex-settings (json-parse-string (getenv "AIEX_TEST_SETTINGS") :object-type 'plist :array-type 'array))
(aiex-eglot-setup)
(add-hook 'project-find-functions #'aiex-project-try-mix)

;; A copy of the fixture: the chat applies an edit to it.
(defconst aiex-test-copy (file-name-as-directory (make-temp-file "aiex-chat-greeter" t)))
(copy-directory aiex-test-project aiex-test-copy nil nil t)
(add-hook 'kill-emacs-hook (lambda () (delete-directory aiex-test-copy t)))

(find-file (expand-file-name "lib/greeter.ex" aiex-test-copy))
(elixir-mode)
(defvar aiex-test-source (current-buffer))
(defvar aiex-test-server nil)

(aiex-test-check "Eglot attaches aiex to the Elixir buffer"
  (apply #'eglot (eglot--guess-contact))
  (setq aiex-test-server (aiex-test-wait "No connection" #'eglot-current-server))
  (unless (aiex-chat--managing aiex-test-source)
    (error "aiex-chat does not see the buffer as managed by aiex")))

(unless aiex-test-server (aiex-test-finish))

(defvar aiex-test-first-session nil)

(aiex-test-check "aiex-chat streams the answer into *aiex-chat*, with the current file as context"
  (switch-to-buffer aiex-test-source)
  (let* ((result (aiex-test-chat-turn (lambda () (aiex-chat "What does this module do?"))))
         (text (aiex-test-chat-text))
         (ctx (aref (plist-get result :context) 0)))
    (unless (eq (with-current-buffer aiex-chat-buffer-name major-mode) 'aiex-chat-mode)
      (error "The chat buffer is not in aiex-chat-mode"))
    (unless (get-buffer-window aiex-chat-buffer-name t) (error "The chat buffer is not shown in a window"))
    (unless (eq (current-buffer) aiex-test-source) (error "The current buffer changed"))
    (unless (>= aiex-chat-deltas 1) (error "No aiex/chatDelta reached the buffer"))
    (unless (string-match-p "^## You\n\nWhat does this module do\\?\n\n## Aiex\n" text)
      (error "The question is not shown under ## You:\n%s" text))
    (unless (string-match-p "trims and capitalizes the name, then says hello" text)
      (error "No answer in the chat buffer:\n%s" text))
    (unless (integerp (plist-get result :sessionId)) (error "No session id: %S" result))
    (unless (and (string-match-p "greeter.ex" (format "%s" (plist-get ctx :path)))
                 (not (equal (plist-get ctx :reason) "selection")))
      (error "The current file was not the context: %S" (plist-get result :context)))
    (unless (with-current-buffer aiex-chat-buffer-name buffer-read-only)
      (error "The chat buffer is writable"))
    (setq aiex-test-first-session (plist-get result :sessionId))
    (aiex-test-out "# chat: session %s, %d deltas streamed" aiex-test-first-session aiex-chat-deltas)))

(aiex-test-check "a second aiex-chat, on the active region, continues the session with that range"
  (if (not aiex-test-first-session)
      '(skip "the first chat turn did not complete")
    (switch-to-buffer aiex-test-source)
    (transient-mark-mode 1)
    (goto-char (point-min))
    (forward-line 9)
    (push-mark (point) t t)
    (forward-line 3)                    ; lines 10-12, whole lines
    (let* ((result (aiex-test-chat-turn
                    (lambda ()
                      (cl-letf (((symbol-function 'read-string) (lambda (&rest _) "And these lines?")))
                        (call-interactively #'aiex-chat)))))
           (ctx (aref (plist-get result :context) 0))
           (text (aiex-test-chat-text)))
      (deactivate-mark)
      (unless (equal (plist-get result :sessionId) aiex-test-first-session)
        (error "Session %S, expected %S" (plist-get result :sessionId) aiex-test-first-session))
      (unless (eql (plist-get result :turn) 2) (error "Turn %S, expected 2" (plist-get result :turn)))
      (unless (equal (plist-get ctx :reason) "selection")
        (error "The region was not the context: %S" (plist-get result :context)))
      (unless (string-match-p "^## You (lines 10-12)$" text) (error "No heading for lines 10-12:\n%s" text))
      (unless (= (aiex-test-count "^## Aiex$" text) 2)
        (error "Expected two answers in the chat buffer:\n%s" text)))))

(aiex-test-check "from the chat buffer, aiex-chat keeps the last file as context"
  (if (not aiex-test-first-session)
      '(skip "the first chat turn did not complete")
    (let ((result (aiex-test-chat-turn
                   (lambda () (with-current-buffer aiex-chat-buffer-name (aiex-chat "And the module doc?"))))))
      (unless (string-match-p "greeter.ex" (format "%s" (plist-get (aref (plist-get result :context) 0) :path)))
        (error "The last file was not the context: %S" (plist-get result :context))))))

(aiex-test-check "aiex-chat-apply applies the proposed edit to the buffer, aiex-undo restores it byte-identically"
  (if (not aiex-test-first-session)
      '(skip "the first chat turn did not complete")
    (let* ((original (with-current-buffer aiex-test-source (buffer-string)))
           (result (aiex-test-farewell-turn))
           (proposal (aref (plist-get result :proposals) 0))
           (asked 0))
      (unless (equal (plist-get result :sessionId) aiex-test-first-session) (error "A new session was started"))
      (unless (plist-get (plist-get proposal :edit) :documentChanges)
        (error "The edit is not versioned (documentChanges): %S" (plist-get proposal :edit)))
      (unless (string-match-p (regexp-quote "> Proposed edit 1: ") (aiex-test-chat-text))
        (error "The chat buffer does not offer the edit:\n%s" (aiex-test-chat-text)))
      (unless (string-match-p "M-x aiex-chat-apply to apply" (aiex-test-chat-text))
        (error "The proposal line does not say how to apply it:\n%s" (aiex-test-chat-text)))
      ;; Eglot asks before applying a server's edit (eglot-confirm-server-initiated-edits): yes.
      (cl-letf (((symbol-function 'y-or-n-p) (lambda (&rest _) (cl-incf asked) t)))
        (aiex-chat-apply)
        (aiex-test-wait-farewell)
        (aiex-test-wait "The chat buffer does not say the edit was applied"
                        (lambda () (string-match-p "^> Edit 1 applied (checkpoint [0-9]+; M-x aiex-undo restores)$"
                                                   (aiex-test-chat-text))))
        (when aiex-chat--proposals (error "The applied proposal is still offered"))
        (let ((msg (condition-case e (progn (aiex-chat-apply) nil) (user-error (cadr e)))))
          (unless (and msg (string-match-p "proposes no edit" msg))
            (error "A second aiex-chat-apply should say there is nothing left, got %S" msg)))
        ;; At once: aiex-undo sends the buffer's changes before asking for the restore.
        (aiex-undo)
        (aiex-test-wait "The buffer is not back to its text before the edit"
                        (lambda () (equal (with-current-buffer aiex-test-source (buffer-string)) original))))
      (aiex-test-out "# chat: Eglot asked %d time(s) to confirm an edit (apply and undo)" asked)
      (aiex-test-wait "aiex-undo did not say what it restored"
                      (lambda () (cl-find-if (lambda (m) (string-match-p "restored .*greeter.ex from before the last AI edit" m))
                                             aiex-test-messages))))))

(aiex-test-check "aiex-chat-reject rejects a proposed edit and leaves the buffer alone"
  (if (not aiex-test-first-session)
      '(skip "the first chat turn did not complete")
    (switch-to-buffer aiex-test-source)
    (let ((original (buffer-string)))
      (let* ((proposal (aref (plist-get (aiex-test-farewell-turn) :proposals) 0))
             (n (plist-get proposal :proposal)))
        ;; Numbered within the session: the first farewell was edit 1.
        (unless (> n 1) (error "Proposal number %S, expected more than 1" n))
        (unless (string-match-p (format "(C-u %d M-x aiex-chat-apply to apply" n) (aiex-test-chat-text))
          (error "The proposal line does not give its number:\n%s" (aiex-test-chat-text)))
        (let ((msg (condition-case e (progn (aiex-chat-reject (+ n 5)) nil) (user-error (cadr e)))))
          (unless (equal msg (format "Aiex: no proposed edit %d in the last answer" (+ n 5)))
            (error "Rejecting a proposal that does not exist: %S" msg)))
        (let ((current-prefix-arg n))
          (call-interactively #'aiex-chat-reject))
        (aiex-test-wait "The chat buffer does not say the edit was rejected"
                        (lambda () (string-match-p (format "^> Edit %d rejected$" n) (aiex-test-chat-text)))))
      (unless (equal (buffer-string) original) (error "Rejecting changed the buffer")))))

(aiex-test-check "aiex-checkpoints compares a picked checkpoint with the buffer, aiex-restore-checkpoint puts it back"
  (if (not aiex-test-first-session)
      '(skip "the first chat turn did not complete")
    (let* ((original (with-current-buffer aiex-test-source (buffer-string)))
           (proposal (aref (plist-get (aiex-test-farewell-turn) :proposals) 0))
           (offered nil))
      ;; Eglot's confirmations: yes; the pick list: record what it offers, pick the newest (its default).
      (cl-letf (((symbol-function 'y-or-n-p) (lambda (&rest _) t))
                ((symbol-function 'completing-read)
                 (lambda (_prompt collection &rest _)
                   (push (mapcar #'car collection) offered)
                   (caar collection))))
        (aiex-chat-apply (plist-get proposal :proposal))
        (aiex-test-wait-farewell)
        (aiex-test-wait "The chat buffer does not say the edit was applied"
                        (lambda () (string-match-p "^> Edit [0-9]+ applied (checkpoint" (aiex-test-chat-text))))
        (switch-to-buffer aiex-test-source)
        (aiex-checkpoints)
        (aiex-test-expect-farewell-diff (aiex-test-wait "No comparison shown" #'aiex-test-shown-comparison))
        (unless (and offered (string-match-p "greeter.ex" (car (car offered))))
          (error "The pick list: %S" offered))
        (switch-to-buffer aiex-test-source)
        (aiex-restore-checkpoint)
        (aiex-test-wait "The buffer is not back to its text before the edit"
                        (lambda () (equal (with-current-buffer aiex-test-source (buffer-string)) original)))
        (unless (= (length offered) 2) (error "The restore was not picked from the list: %S" offered)))
      (aiex-test-wait "aiex-restore-checkpoint did not say what it restored"
                      (lambda () (cl-find-if (lambda (m) (string-match-p "restored .*greeter.ex from checkpoint [0-9]+" m))
                                             aiex-test-messages))))))

(aiex-test-check "aiex-chat-stop cancels the turn in flight, aiex-chat-new starts a new session"
  (if (not aiex-test-first-session)
      '(skip "the first chat turn did not complete")
    (switch-to-buffer aiex-test-source)
    (let ((turn (aiex-chat "Tell me more"))
          (cancels nil))
      (unless (and aiex-chat--pending (aiex-chat--turn-handle turn)) (error "No request in flight"))
      (cl-letf* ((notify (symbol-function 'jsonrpc-notify))
                 ((symbol-function 'jsonrpc-notify)
                  (lambda (conn method params)
                    (when (eq method :$/cancelRequest) (push (plist-get params :id) cancels))
                    (funcall notify conn method params))))
        (aiex-chat-stop))
      (when aiex-chat--pending (error "The turn is still pending"))
      (unless (equal cancels (list (car (aiex-chat--turn-handle turn))))
        (error "Expected one $/cancelRequest for request %S, sent %S" (car (aiex-chat--turn-handle turn)) cancels))
      (unless (string-match-p (regexp-quote "_(stopped)_") (aiex-test-chat-text))
        (error "The chat buffer does not say it stopped:\n%s" (aiex-test-chat-text)))
      ;; Whatever the server still sends for the stopped turn is dropped.
      (let ((deadline (+ (float-time) 0.5))) (while (< (float-time) deadline) (accept-process-output nil 0.02)))
      (let ((text (aiex-test-chat-text)))
        (unless (string-match-p (concat (regexp-quote "Tell me more") "\n\n## Aiex\n\n\n" (regexp-quote "_(stopped)_") "\n\\'") text)
          (error "The stopped turn's answer still reached the buffer:\n%s" text)))
      (aiex-chat-new)
      (unless (and (null aiex-chat-session-id) (equal (aiex-test-chat-text) ""))
        (error "aiex-chat-new kept the session or the text"))
      (let ((result (aiex-test-chat-turn (lambda () (aiex-chat "What does this module do?")))))
        (unless (and (integerp (plist-get result :sessionId))
                     (not (equal (plist-get result :sessionId) aiex-test-first-session)))
          (error "Expected a new session, got %S" (plist-get result :sessionId)))
        (unless (eql (plist-get result :turn) 1) (error "Turn %S of a new session" (plist-get result :turn)))))))

(aiex-test-check "a failed turn says why, in the chat buffer and in a message"
  (switch-to-buffer aiex-test-source)
  (let ((aiex-chat-session-id 987654321))
    (aiex-chat "Still there?")
    (aiex-test-wait "No failure shown" (lambda () (null aiex-chat--pending))))
  (let ((text (aiex-test-chat-text))
        (msg (cl-find-if (lambda (m) (string-prefix-p "Aiex: chat failed: " m)) aiex-test-messages)))
    (unless (string-match-p "^_(failed: .+)_$" text) (error "The chat buffer does not say it failed:\n%s" text))
    (unless msg (error "No \"Aiex: chat failed\" message: %S" (seq-take aiex-test-messages 5)))
    (aiex-test-out "# chat: %s" msg)))

(aiex-test-check "with the server stopped, aiex-chat says aiex is not running"
  (eglot-shutdown-all)
  (switch-to-buffer aiex-test-source)
  (let ((msg (condition-case e (progn (aiex-chat "hello") nil) (user-error (cadr e)))))
    (unless (and msg (string-match-p "Aiex is not running" msg))
      (error "Expected a user-error saying aiex is not running, got %S" msg))))

(aiex-test-finish)
;;; chat-test.el ends here
