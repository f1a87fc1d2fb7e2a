;;; unit.el --- Unit tests of aiex-common.el's and aiex-chat.el's pure helpers  -*- lexical-binding: t; -*-

;; emacs --batch -q -l tests/editors/emacs/unit.el

(load (expand-file-name "helpers.el" (file-name-directory (or load-file-name buffer-file-name))) nil t)
(setq aiex-test-prefix "emacs unit")
(require 'aiex-common)

(defun aiex-test-expect (actual expected what)
  (unless (equal actual expected)
    (error "%s: expected %S, got %S" what expected actual)))

(defconst aiex-test-explain '(:title "Explain" :command (:command "aiex.explain" :arguments [(:uri "u")])))

(aiex-test-check "pick: the action carrying the command, from a vector"
  (aiex-test-expect (aiex-pick-action (vector '(:title "x" :command (:command "other")) aiex-test-explain)
                                      "aiex.explain")
                    aiex-test-explain "action"))

(aiex-test-check "pick: a bare Command counts"
  (let ((bare '(:title "Add docs" :command "aiex.addDocs" :arguments [])))
    (aiex-test-expect (aiex-pick-action (list bare) "aiex.addDocs") bare "action")))

(aiex-test-check "pick: disabled actions are skipped, with the reason when all are"
  (let ((disabled (append '(:disabled (:reason "no provider")) aiex-test-explain)))
    (aiex-test-expect (aiex-pick-action (list disabled aiex-test-explain) "aiex.explain") aiex-test-explain "action")
    (aiex-test-expect (condition-case e (aiex-pick-action (list disabled) "aiex.explain") (user-error (cadr e)))
                      "Aiex cannot do that here: no provider" "reason")))

(aiex-test-check "pick: says where to put point when nothing matches"
  (let ((msg (condition-case e (aiex-pick-action [] "aiex.explain") (user-error (cadr e)))))
    (unless (string-match-p "put point inside a function" msg) (error "Got %S" msg))))

(aiex-test-check "with-instruction: added to an object argument, appended otherwise"
  (aiex-test-expect (aiex-with-instruction [(:uri "u")] " inline it ") [(:uri "u" :instruction "inline it")] "object")
  (aiex-test-expect (aiex-with-instruction ["u"] "x") ["u" (:instruction "x")] "other")
  (aiex-test-expect (aiex-with-instruction [(:uri "u")] "  ") [(:uri "u")] "empty")
  (aiex-test-expect (aiex-with-instruction nil nil) [] "nil"))

(aiex-test-check "project-root: nearest mix.exs, umbrella for apps, nil elsewhere"
  (let* ((tmp (file-name-as-directory (make-temp-file "aiex-root" t)))
         (touch (lambda (f) (make-directory (file-name-directory (expand-file-name f tmp)) t)
                  (write-region "" nil (expand-file-name f tmp)))))
    (unwind-protect
        (progn
          (funcall touch "umbrella/mix.exs")
          (funcall touch "umbrella/apps/web/mix.exs")
          (funcall touch "umbrella/apps/web/lib/web.ex")
          (funcall touch "single/mix.exs")
          (funcall touch "single/lib/a.ex")
          (funcall touch "loose/y.ex")
          (aiex-test-expect (aiex-project-root (expand-file-name "umbrella/apps/web/lib/" tmp))
                            (expand-file-name "umbrella/" tmp) "umbrella")
          (aiex-test-expect (aiex-project-root (expand-file-name "single/lib/" tmp))
                            (expand-file-name "single/" tmp) "single")
          (aiex-test-expect (aiex-project-root (expand-file-name "loose/" tmp)) nil "loose")
          (aiex-test-expect (aiex-project-try-mix (expand-file-name "single/lib/" tmp))
                            (cons 'transient (expand-file-name "single/" tmp)) "project.el"))
      (delete-directory tmp t))))

;;; aiex-chat.el: its pure helpers, and the chat flow against a fake client (no server).

(require 'aiex-chat)

(aiex-test-check "chat params: nil keys left out, the rest in the server's shape"
  (aiex-test-expect (aiex-chat-params "hi" nil nil nil "t1") '(:message "hi" :token "t1") "new session")
  (aiex-test-expect (aiex-chat-params "hi" 7 '(:uri "file:///a.ex")
                                      '(:start (:line 9 :character 0) :end (:line 12 :character 0)) "t2")
                    '(:sessionId 7 :message "hi" :textDocument (:uri "file:///a.ex")
                      :range (:start (:line 9 :character 0) :end (:line 12 :character 0)) :token "t2")
                    "everything")
  (aiex-test-expect (json-parse-string (json-serialize (aiex-chat-params "hi" nil nil nil "t")) :object-type 'alist)
                    '((message . "hi") (token . "t")) "as JSON"))

(aiex-test-check "chat proposal lines: number, label and how to apply"
  (aiex-test-expect (aiex-chat-proposal-lines [(:proposal 2 :label "Add farewell/1" :edit nil)])
                    '("> Proposed edit 2: Add farewell/1 (C-u 2 M-x aiex-chat-apply to apply, M-x aiex-undo to undo it after)")
                    "one")
  (aiex-test-expect (aiex-chat-proposal-lines nil) nil "none"))

(aiex-test-check "chat region lines: whole lines end on the line before, one line, mid-line"
  (with-temp-buffer
    (insert "a\nbb\nccc\ndddd\n")
    (aiex-test-expect (aiex-chat-region-lines 3 10) '(2 3) "whole lines 2-3")
    (aiex-test-expect (aiex-chat-region-lines 3 5) '(2 2) "line 2")
    (aiex-test-expect (aiex-chat-region-lines 4 8) '(2 3) "mid-line")
    (aiex-test-expect (aiex-chat-region-lines 3 3) '(2 2) "empty"))
  (aiex-test-expect (aiex-chat-lines-label 10 12) " (lines 10-12)" "label")
  (aiex-test-expect (aiex-chat-lines-label 4 4) " (line 4)" "one line")
  (aiex-test-expect (aiex-chat-lines-label nil nil) "" "no lines"))

(aiex-test-check "chat error message: JSON-RPC error, string, Emacs error"
  (aiex-test-expect (aiex-chat-error-message '(:code -32603 :message "no session 9")) "no session 9" "rpc")
  (aiex-test-expect (aiex-chat-error-message "gone") "gone" "string")
  (aiex-test-expect (aiex-chat-error-message '(error "Boom")) "Boom" "emacs"))

;; A client with no server: records requests and cancels; the test answers for the server.
(defvar aiex-test-fake-requests nil "Requests sent: plists (:method :params :on-result :on-error :on-timeout).")
(defvar aiex-test-fake-cancels nil)
(defvar aiex-test-fake-buffer nil "The buffer the fake server manages.")
(aiex-chat-register-client
 (aiex-chat-client-create
  :name "fake"
  :connection (lambda (buffer) (and (eq buffer aiex-test-fake-buffer) 'fake-conn))
  :any (lambda () (and aiex-test-fake-buffer 'fake-conn))
  :request (lambda (_conn method params on-result on-error timeout on-timeout)
             (push (list :method method :params params :on-result on-result :on-error on-error
                         :timeout timeout :on-timeout on-timeout)
                   aiex-test-fake-requests)
             (list (length aiex-test-fake-requests)))
  :cancel (lambda (_conn handle) (push (car handle) aiex-test-fake-cancels))
  :sync #'ignore
  :document (lambda (_buffer) '(:uri "file:///p/lib/a.ex"))
  :position (lambda (buffer pos) (with-current-buffer buffer
                                   (save-excursion
                                     (goto-char pos)
                                     (list :line (1- (line-number-at-pos pos t))
                                           :character (- pos (line-beginning-position))))))))

(defun aiex-test-chat-text ()
  (with-current-buffer aiex-chat-buffer-name (buffer-substring-no-properties (point-min) (point-max))))

(aiex-test-check "chat flow: the question, deltas (others' ignored), the answer and its proposal"
  (setq aiex-test-fake-buffer (generate-new-buffer "a.ex"))
  (with-current-buffer aiex-test-fake-buffer
    (insert "defmodule A do\n  def a, do: 1\nend\n")
    (aiex-chat "What is a?" 16 31))
  (let* ((req (car aiex-test-fake-requests))
         (params (plist-get req :params)))
    (aiex-test-expect (plist-get req :method) "aiex/chat" "method")
    (aiex-test-expect (plist-get params :range) '(:start (:line 1 :character 0) :end (:line 2 :character 0)) "range")
    (aiex-test-expect (plist-get params :textDocument) '(:uri "file:///p/lib/a.ex") "document")
    (aiex-test-expect (plist-get req :timeout) aiex-chat-timeout "timeout")
    (aiex-chat-on-delta (plist-get params :token) "It returns")
    (aiex-chat-on-delta "someone-else" "NOT MINE")
    (aiex-chat-on-delta (plist-get params :token) " 1.")
    (aiex-test-expect (aiex-test-chat-text) "## You (line 2)\n\nWhat is a?\n\n## Aiex\nIt returns 1." "streamed")
    (funcall (plist-get req :on-result)
             '(:sessionId 4 :turn 1 :text "It returns `1`.\n" :context []
               :proposals [(:proposal 1 :label "Inline a" :edit (:changes nil))]))
    (aiex-test-expect aiex-chat-session-id 4 "session")
    (aiex-test-expect aiex-chat-deltas 2 "deltas counted")
    (aiex-test-expect (aiex-test-chat-text)
                      (concat "## You (line 2)\n\nWhat is a?\n\n## Aiex\nIt returns `1`.\n\n"
                              "> Proposed edit 1: Inline a (C-u 1 M-x aiex-chat-apply to apply, M-x aiex-undo to undo it after)\n")
                      "answered")))

(aiex-test-check "chat flow: from the chat buffer, the last file is the context; a second turn waits"
  (with-current-buffer aiex-chat-buffer-name (aiex-chat "And b?"))
  (let ((params (plist-get (car aiex-test-fake-requests) :params)))
    (aiex-test-expect (plist-get params :sessionId) 4 "same session")
    (aiex-test-expect (plist-get params :textDocument) '(:uri "file:///p/lib/a.ex") "last file")
    (aiex-test-expect (plist-get params :range) nil "no range from the chat buffer"))
  (aiex-test-expect (condition-case e (progn (aiex-chat "More?") nil) (user-error (cadr e)))
                    "Aiex is still answering: wait, or M-x aiex-chat-stop" "busy"))

(aiex-test-check "chat flow: stop cancels once; a late answer or delta is dropped"
  (let ((req (car aiex-test-fake-requests)))
    (aiex-chat-stop)
    (aiex-test-expect aiex-test-fake-cancels (list (length aiex-test-fake-requests)) "one cancel")
    (aiex-chat-on-delta (plist-get (plist-get req :params) :token) "late")
    (funcall (plist-get req :on-result) '(:sessionId 4 :turn 2 :text "late answer" :proposals []))
    (unless (string-suffix-p "And b?\n\n## Aiex\n\n\n_(stopped)_\n" (aiex-test-chat-text))
      (error "After stop:\n%s" (aiex-test-chat-text)))
    (aiex-chat-stop)
    (aiex-test-expect (car aiex-test-messages) "Aiex: no chat answer in progress" "nothing to stop")))

(aiex-test-check "chat flow: a timeout cancels the request and says so"
  (with-current-buffer aiex-test-fake-buffer (aiex-chat "Slow?"))
  (let ((req (car aiex-test-fake-requests)))
    (funcall (plist-get req :on-timeout))
    (aiex-test-expect (car aiex-test-fake-cancels) (length aiex-test-fake-requests) "cancelled")
    (unless (string-match-p "^_(failed: no answer within 1800 s (see `aiex-chat-timeout'))_$" (aiex-test-chat-text))
      (error "No timeout note:\n%s" (aiex-test-chat-text)))
    (aiex-test-expect aiex-chat--pending nil "not pending")))

(aiex-test-check "chat flow: apply sends the proposal, notes the checkpoint; new session clears"
  (aiex-chat-apply)
  (let ((req (car aiex-test-fake-requests)))
    (aiex-test-expect (plist-get req :method) "aiex/applyChatEdit" "method")
    (aiex-test-expect (plist-get req :params) '(:sessionId 4 :proposal 1) "params")
    (funcall (plist-get req :on-result) '(:applied t :checkpoint 12))
    (unless (string-match-p "^> Edit 1 applied (checkpoint 12; M-x aiex-undo restores)$" (aiex-test-chat-text))
      (error "No applied note:\n%s" (aiex-test-chat-text))))
  (aiex-test-expect (condition-case e (progn (aiex-chat-apply 3) nil) (user-error (cadr e)))
                    "Aiex: no proposed edit 3 in the last answer" "no such proposal")
  (aiex-undo)
  (let ((req (car aiex-test-fake-requests)))
    (aiex-test-expect (plist-get req :params) '(:command "aiex.undoLastAiEdit" :arguments []) "undo")
    (funcall (plist-get req :on-error) '(:code -32603 :message "lib/a.ex changed since the AI edit"))
    (aiex-test-expect (car aiex-test-messages) "Aiex: undo failed: lib/a.ex changed since the AI edit" "refusal"))
  (aiex-chat-new)
  (aiex-test-expect (list aiex-chat-session-id (aiex-test-chat-text)) '(nil "") "cleared")
  (kill-buffer aiex-test-fake-buffer)
  (setq aiex-test-fake-buffer nil)
  (aiex-test-expect (condition-case e (progn (aiex-chat "hi") nil) (user-error (cadr e)))
                    "Aiex is not running: open an Elixir file with aiex first (M-x eglot, or lsp-mode with aiex-lsp)"
                    "no server"))

(aiex-test-check "version: the minimum server version is the server workspace's version"
  (let ((manifest (with-temp-buffer
                    (insert-file-contents (expand-file-name "Cargo.toml" aiex-test-repo))
                    (buffer-string))))
    (unless (string-match "^version = \"\\([^\"]+\\)\"" manifest)
      (error "No version in the workspace's Cargo.toml"))
    (aiex-test-expect aiex-minimum-server-version (match-string 1 manifest) "minimum version")))

(aiex-test-check "version: sent under experimental.aiex, other experimental capabilities kept"
  (let ((aiex (list :minimumServerVersion aiex-minimum-server-version)))
    (aiex-test-expect (aiex-client-experimental-capabilities nil) (list :aiex aiex) "none before")
    (aiex-test-expect (aiex-client-experimental-capabilities (make-hash-table)) (list :aiex aiex)
                      "Eglot's empty object")
    (let ((mine (list :other t)))
      (aiex-test-expect (aiex-client-experimental-capabilities mine) (list :other t :aiex aiex) "plist")
      (aiex-test-expect mine '(:other t) "the caller's plist untouched"))
    (let ((table (make-hash-table :test #'equal)))
      (puthash "other" t table)
      (let ((merged (aiex-client-experimental-capabilities table)))
        (aiex-test-expect (list (gethash "other" merged) (gethash "aiex" merged)) (list t aiex) "table")
        (aiex-test-expect (hash-table-count table) 1 "the caller's table untouched")))
    (aiex-test-expect (json-serialize (aiex-client-experimental-capabilities nil))
                      (format "{\"aiex\":{\"minimumServerVersion\":\"%s\"}}" aiex-minimum-server-version)
                      "JSON")))

;;; Checkpoints: the pick list, the comparison text, the restore command.

(aiex-test-check "checkpoint label: id, name and files, so labels are distinct"
  (aiex-test-expect (aiex-checkpoint-label '(:id 3 :name "Aiex chat: add farewell" :files [(:path "/p/lib/a.ex") (:path "/p/lib/b.ex")]))
                    "3  Aiex chat: add farewell  (/p/lib/a.ex, /p/lib/b.ex)" "two files")
  (aiex-test-expect (aiex-checkpoint-label '(:id 4 :files [])) "4    ()" "no name, no file"))

(aiex-test-check "checkpoint diff text: each file's diff, or a line saying it is unchanged"
  (aiex-test-expect (aiex-checkpoint-diff-text [(:path "/p/a.ex" :diff "--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y")
                                                (:path "/p/b.ex" :diff "")])
                    "--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n(/p/b.ex is as the checkpoint recorded it)\n" "two files")
  (aiex-test-expect (aiex-checkpoint-diff-text []) "" "none"))

(aiex-test-check "checkpoint restore params: force only when asked, in the server's shape"
  (aiex-test-expect (aiex-checkpoint-restore-params 5 nil)
                    '(:command "aiex.restoreCheckpoint" :arguments [(:checkpoint 5)]) "not forced")
  (aiex-test-expect (json-serialize (aiex-checkpoint-restore-params 5 t))
                    "{\"command\":\"aiex.restoreCheckpoint\",\"arguments\":[{\"checkpoint\":5,\"force\":true}]}" "forced"))

(aiex-test-check "checkpoints flow: the list is picked from, the comparison shown in diff-mode"
  (setq aiex-test-fake-buffer (generate-new-buffer "a.ex"))
  (let ((offered nil))
    (cl-letf (((symbol-function 'completing-read)
               (lambda (_prompt collection &rest _)
                 (setq offered (mapcar #'car collection))
                 (cadr offered))))
      (with-current-buffer aiex-test-fake-buffer (aiex-checkpoints))
      (let ((req (car aiex-test-fake-requests)))
        (aiex-test-expect (list (plist-get req :method) (plist-get req :params)) '("aiex/checkpoints" nil) "list")
        (funcall (plist-get req :on-result) [(:id 7 :name "newest" :files [(:path "/p/a.ex")])
                                             (:id 6 :name "older" :files [(:path "/p/a.ex")])])))
    (aiex-test-expect offered '("7  newest  (/p/a.ex)" "6  older  (/p/a.ex)") "offered, newest first")
    (let ((req (car aiex-test-fake-requests)))
      (aiex-test-expect (list (plist-get req :method) (plist-get req :params))
                        '("aiex/compareCheckpoint" (:checkpoint 6)) "compare the picked one")
      (funcall (plist-get req :on-result) [(:path "/p/a.ex" :diff "--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n")]))
    (with-current-buffer aiex-checkpoint-buffer-name
      (aiex-test-expect (list major-mode aiex-checkpoint-id buffer-read-only) '(diff-mode 6 t) "diff buffer")
      (aiex-test-expect (buffer-string) "--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n" "diff text"))))

(aiex-test-check "checkpoints flow: no checkpoint says so; a refused restore says how to force"
  (with-current-buffer aiex-test-fake-buffer (aiex-restore-checkpoint))
  (funcall (plist-get (car aiex-test-fake-requests) :on-result) [])
  (aiex-test-expect (car aiex-test-messages) "Aiex: there is no AI edit to go back to" "empty list")
  (with-current-buffer aiex-test-fake-buffer (aiex-restore-checkpoint nil 6))
  (let ((req (car aiex-test-fake-requests)))
    (aiex-test-expect (plist-get req :params) (aiex-checkpoint-restore-params 6 nil) "restore 6, not forced")
    (funcall (plist-get req :on-error) '(:code -32603 :message "/p/a.ex changed since the checkpoint"))
    (aiex-test-expect (car aiex-test-messages)
                      "Aiex: restore failed: /p/a.ex changed since the checkpoint (C-u M-x aiex-restore-checkpoint restores anyway)"
                      "refusal"))
  (let ((current-prefix-arg '(4)))
    (cl-letf (((symbol-function 'completing-read) (lambda (_p collection &rest _) (caar collection))))
      (with-current-buffer aiex-test-fake-buffer (call-interactively #'aiex-restore-checkpoint))
      (funcall (plist-get (car aiex-test-fake-requests) :on-result) [(:id 6 :name "older" :files [])])))
  (let ((req (car aiex-test-fake-requests)))
    (aiex-test-expect (plist-get req :params) (aiex-checkpoint-restore-params 6 t) "C-u forces")
    (funcall (plist-get req :on-result) '(:files ["/p/a.ex"]))
    (aiex-test-expect (car aiex-test-messages) "Aiex: restored /p/a.ex from checkpoint 6" "restored"))
  (kill-buffer aiex-test-fake-buffer)
  (setq aiex-test-fake-buffer nil))

(aiex-test-finish)
;;; unit.el ends here
