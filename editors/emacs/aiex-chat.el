;;; aiex-chat.el --- A conversation with the Aiex server in a buffer  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The Aiex authors. MIT License.
;; Package-Requires: ((emacs "28.1"))

;;; Commentary:

;; M-x aiex-chat asks the Aiex server about the code, with the current file
;; (or the active region) as context, and streams the answer into the
;; *aiex-chat* buffer.  The next question continues the same session until
;; M-x aiex-chat-new.  An answer may propose an edit: M-x aiex-chat-apply
;; applies it (the server takes a checkpoint first), M-x aiex-undo puts the
;; files back as they were before the last AI edit.
;;
;; The protocol (the same as Neovim's :AiexChat and VS Code's chat panel):
;; the request `aiex/chat' {sessionId?, message, textDocument?, range?,
;; token} is answered with {sessionId, turn, text, context, proposals}, and
;; while it runs the server sends `aiex/chatDelta' {token, text}
;; notifications.  `$/cancelRequest' stops a turn.  `aiex/applyChatEdit'
;; {sessionId, proposal, reject?} applies a proposal (through
;; workspace/applyEdit) or rejects it; the command `aiex.undoLastAiEdit'
;; restores the last checkpoint.
;;
;; This file knows nothing of Eglot or lsp-mode: each registers an
;; `aiex-chat-client' (aiex-eglot.el, aiex-lsp.el), which sends requests
;; and passes the server's `aiex/chatDelta' notifications to
;; `aiex-chat-on-delta'.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'aiex-common)
(require 'diff-mode)

(defcustom aiex-chat-timeout 1800
  "Seconds to wait for a chat answer (or an applied edit) before giving up.
A model on a CPU can take minutes to answer; \\[aiex-chat-stop] stops
a turn sooner."
  :type 'number
  :group 'aiex)

(defconst aiex-chat-buffer-name "*aiex-chat*"
  "The name of the chat buffer.")

;;; Clients

(cl-defstruct (aiex-chat-client (:constructor aiex-chat-client-create) (:copier nil))
  "How the chat talks to the aiex server through one LSP client.
Every function slot takes the arguments named in its documentation."
  (name nil :documentation "A short name: \"eglot\", \"lsp-mode\".")
  (connection nil :documentation "(BUFFER): the aiex connection managing BUFFER, or nil.")
  (any nil :documentation "(): some running aiex connection, or nil.")
  (request nil :documentation "(CONN METHOD PARAMS ON-RESULT ON-ERROR TIMEOUT ON-TIMEOUT):
sends the request METHOD (a string) and returns a handle for `cancel'.
ON-RESULT gets the result, ON-ERROR the error (a plist with :message).")
  (cancel nil :documentation "(CONN HANDLE): sends $/cancelRequest for the request.")
  (sync nil :documentation "(BUFFER): sends BUFFER's pending changes to the server.")
  (document nil :documentation "(BUFFER): BUFFER's TextDocumentIdentifier.")
  (position nil :documentation "(BUFFER POS): POS as an LSP position in the server's encoding."))

(defvar aiex-chat-clients nil
  "The registered `aiex-chat-client's, tried in order.")

(defun aiex-chat-register-client (client)
  "Register CLIENT (an `aiex-chat-client'), replacing one of the same name."
  (setq aiex-chat-clients
        (append (cl-remove (aiex-chat-client-name client) aiex-chat-clients
                           :key #'aiex-chat-client-name :test #'equal)
                (list client))))

(defun aiex-chat--managing (buffer)
  "The (CLIENT . CONNECTION) of the aiex server managing BUFFER, or nil."
  (when (buffer-live-p buffer)
    (cl-loop for client in aiex-chat-clients
             for conn = (funcall (aiex-chat-client-connection client) buffer)
             when conn return (cons client conn))))

(defun aiex-chat--find (buffer)
  "The (CLIENT . CONNECTION) managing BUFFER, else any running aiex server."
  (or (aiex-chat--managing buffer)
      (cl-loop for client in aiex-chat-clients
               for conn = (funcall (aiex-chat-client-any client))
               when conn return (cons client conn))
      (user-error "Aiex is not running: open an Elixir file with aiex first (M-x eglot, or lsp-mode with aiex-lsp)")))

(defun aiex-chat--sync-all (client conn)
  "Send the pending changes of every buffer CONN manages through CLIENT.
The server must hold the text an edit or a restore is computed on."
  (dolist (buffer (buffer-list))
    (when (eq (cdr (aiex-chat--managing buffer)) conn)
      (funcall (aiex-chat-client-sync client) buffer))))

;;; State

(cl-defstruct (aiex-chat--turn (:constructor aiex-chat--turn-create) (:copier nil))
  "A chat turn in progress."
  client conn handle token answer)

(defvar aiex-chat-session-id nil
  "The server's id of the current session, from its first answer.
Nil until then: the next question starts a new session.")
(defvar aiex-chat-last-result nil
  "The last `aiex/chat' result: (:sessionId :turn :text :context :proposals).")
(defvar aiex-chat-deltas 0
  "How many `aiex/chatDelta' notifications the current (or last) turn streamed.")
(defvar aiex-chat--pending nil "The `aiex-chat--turn' in progress, or nil.")
(defvar aiex-chat--source nil
  "The last buffer a question was asked from, with its file as context.")
(defvar aiex-chat--tokens 0 "Turns asked so far: numbers the tokens.")
(defvar aiex-chat--proposals nil
  "The last answer's proposed edits: plists (:proposal :label :edit).")
(defvar aiex-chat-history nil "Questions asked, for `read-string'.")

;;; Pure helpers

(defun aiex-chat-params (message session-id document range token)
  "The `aiex/chat' params: MESSAGE in SESSION-ID (nil: a new session).
DOCUMENT is a TextDocumentIdentifier or nil, RANGE an LSP range or nil,
TOKEN the string the server echoes in its deltas.  Nil keys are left out."
  (append (and session-id (list :sessionId session-id))
          (list :message message)
          (and document (list :textDocument document))
          (and range (list :range range))
          (list :token token)))

(defun aiex-chat-proposal-lines (proposals)
  "The lines shown under an answer for its PROPOSALS (a list or vector)."
  (cl-loop for p across (vconcat proposals)
           collect (format "> Proposed edit %d: %s (C-u %d M-x aiex-chat-apply to apply, M-x aiex-undo to undo it after)"
                           (plist-get p :proposal) (or (plist-get p :label) "") (plist-get p :proposal))))

(defun aiex-chat-lines-label (line1 line2)
  "The heading suffix for a question on lines LINE1..LINE2, or \"\" without lines."
  (cond ((null line1) "")
        ((eql line1 line2) (format " (line %d)" line1))
        (t (format " (lines %d-%d)" line1 line2))))

(defun aiex-chat-region-lines (beg end)
  "The first and last line (1-based) the region BEG..END covers, as a list.
An END at the start of a line (a region of whole lines) ends on the line before."
  (let ((line1 (line-number-at-pos beg t))
        (line2 (line-number-at-pos end t)))
    (when (and (> end beg) (> line2 line1)
               (save-excursion (goto-char end) (bolp)))
      (setq line2 (1- line2)))
    (list line1 line2)))

(defun aiex-chat-error-message (err)
  "A readable message for ERR: a JSON-RPC error plist, a string, or an Emacs error."
  (cond ((stringp err) err)
        ((and (consp err) (keywordp (car err)) (plist-get err :message)))
        ((and (consp err) (symbolp (car err))) (error-message-string err))
        (t (format "%S" err))))

(defun aiex-chat--proposal-number (proposal)
  "PROPOSAL's number."
  (plist-get proposal :proposal))

;;; The buffer

(defvar aiex-chat-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "a") #'aiex-chat)
    (define-key map (kbd "C-c C-c") #'aiex-chat)
    (define-key map (kbd "C-c C-n") #'aiex-chat-new)
    (define-key map (kbd "C-c C-k") #'aiex-chat-stop)
    (define-key map (kbd "C-c C-a") #'aiex-chat-apply)
    (define-key map (kbd "C-c C-r") #'aiex-chat-reject)
    (define-key map (kbd "C-c C-u") #'aiex-undo)
    map)
  "Keys of the *aiex-chat* buffer.")

(defconst aiex-chat-font-lock-keywords
  '(("^## .*$" . 'font-lock-keyword-face)
    ("^> .*$" . 'font-lock-comment-face)
    ("^_(.*)_$" . 'font-lock-warning-face))
  "Headings, proposal lines and notes in the chat buffer.")

(define-derived-mode aiex-chat-mode special-mode "Aiex-Chat"
  "The Aiex chat transcript: questions under \"## You\", answers under \"## Aiex\".
The buffer is read-only; ask with \\[aiex-chat].

\\{aiex-chat-mode-map}"
  (setq-local font-lock-defaults '(aiex-chat-font-lock-keywords t))
  (setq-local truncate-lines nil)
  (setq-local revert-buffer-function (lambda (&rest _) (message "Aiex: nothing to revert")))
  (visual-line-mode 1))

(defun aiex-chat--buffer ()
  "The chat buffer, made if needed."
  (or (get-buffer aiex-chat-buffer-name)
      (with-current-buffer (get-buffer-create aiex-chat-buffer-name)
        (aiex-chat-mode)
        (current-buffer))))

(defun aiex-chat-open ()
  "Show the chat buffer (without selecting it) and return it."
  (let ((buffer (aiex-chat--buffer)))
    (unless (get-buffer-window buffer t)
      (display-buffer buffer '(nil (inhibit-same-window . t))))
    buffer))

(defun aiex-chat--update-mode-line ()
  "Show the session and whether an answer streams in the chat buffer's mode line."
  (when-let ((buffer (get-buffer aiex-chat-buffer-name)))
    (with-current-buffer buffer
      (setq mode-line-process
            (concat (if aiex-chat-session-id (format " session %s" aiex-chat-session-id) "")
                    (if aiex-chat--pending " answering…" "")))
      (force-mode-line-update))))

(defmacro aiex-chat--editing (&rest body)
  "Run BODY in the chat buffer, writable, then keep its windows at the end."
  (declare (indent 0) (debug t))
  `(with-current-buffer (aiex-chat--buffer)
     (let ((inhibit-read-only t))
       (save-excursion ,@body))
     (aiex-chat--follow)))

(defun aiex-chat--follow ()
  "Move the point of every window showing the chat buffer to its end."
  (when-let ((buffer (get-buffer aiex-chat-buffer-name)))
    (dolist (window (get-buffer-window-list buffer nil t))
      (set-window-point window (with-current-buffer buffer (point-max))))))

(defun aiex-chat--append-lines (lines)
  "Append LINES (strings) as lines at the end of the chat buffer."
  (aiex-chat--editing
    (goto-char (point-max))
    (unless (= (point-min) (point-max)) (insert "\n"))
    (insert (string-join lines "\n"))))

(defun aiex-chat--append-text (text)
  "Append streamed TEXT (it may hold newlines) to the answer being written."
  (aiex-chat--editing
    (goto-char (point-max))
    (insert text)))

(defun aiex-chat--set-answer (turn text)
  "Replace TURN's answer so far (from its start to the end) with TEXT."
  (let ((text (string-remove-suffix "\n" text))
        (start (aiex-chat--turn-answer turn)))
    (aiex-chat--editing
      ;; The buffer may have been killed (and made again) while the answer streamed.
      (let ((from (if (and (markerp start) (eq (marker-buffer start) (current-buffer)))
                      (marker-position start)
                    (point-max))))
        (delete-region from (point-max))
        (goto-char from)
        (insert text)))))

;;; Streaming

(defun aiex-chat-on-delta (token text)
  "`aiex/chatDelta' {TOKEN, TEXT}: a piece of the answer of the turn in progress.
Called by the client (Eglot or lsp-mode) for every notification."
  (let ((turn aiex-chat--pending))
    (when (and turn (stringp text) (equal token (aiex-chat--turn-token turn)))
      (cl-incf aiex-chat-deltas)
      (aiex-chat--append-text text))))

(defun aiex-chat--finish (turn err result)
  "End TURN with the error ERR or the RESULT of `aiex/chat'."
  (when (eq aiex-chat--pending turn)     ; else stopped, or superseded
    (setq aiex-chat--pending nil)
    (if err
        (let ((reason (aiex-chat-error-message err)))
          (aiex-chat--set-answer turn (format "_(failed: %s)_" reason))
          (aiex-chat--append-lines '(""))
          (message "Aiex: chat failed: %s" reason))
      (setq aiex-chat-last-result result)
      (when-let ((session (plist-get result :sessionId)))
        (setq aiex-chat-session-id session))
      (setq aiex-chat--proposals (append (plist-get result :proposals) nil))
      (let ((text (plist-get result :text)))
        (aiex-chat--set-answer turn (if (stringp text) text "")))
      (when-let ((lines (aiex-chat-proposal-lines aiex-chat--proposals)))
        (aiex-chat--append-lines (cons "" lines)))
      (aiex-chat--append-lines '("")))
    (aiex-chat--update-mode-line)))

;;; Commands

(defun aiex-chat--read-question ()
  "Read a question; the prompt says when the active region goes with it."
  (read-string (if (use-region-p) "Ask Aiex about the region: " "Ask Aiex: ")
               nil 'aiex-chat-history))

;;;###autoload
(defun aiex-chat (message &optional beg end)
  "Ask Aiex MESSAGE, streaming the answer into the *aiex-chat* buffer.
From an Elixir buffer aiex manages, the current file goes with the
question as context, and an active region (BEG..END) as the selection
the question is about.  From the chat buffer (or another buffer), the
last file asked from is the context.  The question continues the current
session; \\[aiex-chat-new] starts another."
  (interactive
   (list (aiex-chat--read-question)
         (and (use-region-p) (region-beginning))
         (and (use-region-p) (region-end))))
  (when (or (null message) (string-empty-p (string-trim message)))
    (user-error "Aiex: nothing to ask"))
  (when aiex-chat--pending
    (user-error "Aiex is still answering: wait, or M-x aiex-chat-stop"))
  (let* ((current (current-buffer))
         (managed (aiex-chat--managing current))
         (source (cond (managed current)
                       ((and (buffer-live-p aiex-chat--source)
                             (or (eq current (get-buffer aiex-chat-buffer-name))
                                 (not buffer-file-name)))
                        aiex-chat--source)))
         (found (aiex-chat--find source))
         (client (car found))
         (conn (cdr found))
         document range lines)
    (when (and source (eq (cdr (aiex-chat--managing source)) conn))
      (setq aiex-chat--source source)
      (funcall (aiex-chat-client-sync client) source)
      (setq document (funcall (aiex-chat-client-document client) source))
      (when (and beg end (eq source current))
        (setq range (list :start (funcall (aiex-chat-client-position client) source beg)
                          :end (funcall (aiex-chat-client-position client) source end))
              lines (with-current-buffer source (aiex-chat-region-lines beg end)))))
    (cl-incf aiex-chat--tokens)
    (let ((token (format "emacs-chat-%d" aiex-chat--tokens))
          (turn nil))
      (aiex-chat-open)
      (aiex-chat--append-lines (list (concat "## You" (aiex-chat-lines-label (car lines) (cadr lines))) ""))
      (aiex-chat--append-lines (split-string message "\n"))
      (aiex-chat--append-lines '("" "## Aiex" ""))
      (setq turn (aiex-chat--turn-create
                  :client client :conn conn :token token
                  :answer (with-current-buffer (aiex-chat--buffer) (copy-marker (point-max)))))
      (setq aiex-chat--pending turn
            aiex-chat-deltas 0)
      (aiex-chat--update-mode-line)
      (condition-case err
          (setf (aiex-chat--turn-handle turn)
                (funcall (aiex-chat-client-request client) conn "aiex/chat"
                         (aiex-chat-params message aiex-chat-session-id document range token)
                         (lambda (result) (aiex-chat--finish turn nil result))
                         (lambda (err) (aiex-chat--finish turn err nil))
                         aiex-chat-timeout
                         (lambda ()
                           (when (eq aiex-chat--pending turn)
                             (ignore-errors
                               (funcall (aiex-chat-client-cancel client) conn (aiex-chat--turn-handle turn))))
                           (aiex-chat--finish
                            turn (format "no answer within %s s (see `aiex-chat-timeout')" aiex-chat-timeout) nil))))
        (error
         (setq aiex-chat--pending nil)
         (aiex-chat--set-answer turn "_(not sent: the aiex server has stopped)_")
         (aiex-chat--update-mode-line)
         (message "Aiex: the chat request could not be sent: %s" (error-message-string err))))
      turn)))

;;;###autoload
(defun aiex-chat-stop ()
  "Stop the answer in progress ($/cancelRequest)."
  (interactive)
  (let ((turn aiex-chat--pending))
    (if (not turn)
        (message "Aiex: no chat answer in progress")
      (setq aiex-chat--pending nil)
      (when (aiex-chat--turn-handle turn)
        (ignore-errors
          (funcall (aiex-chat-client-cancel (aiex-chat--turn-client turn))
                   (aiex-chat--turn-conn turn) (aiex-chat--turn-handle turn))))
      (aiex-chat--append-text "\n\n_(stopped)_")
      (aiex-chat--append-lines '(""))
      (aiex-chat--update-mode-line))))

;;;###autoload
(defun aiex-chat-new ()
  "Start a new chat session: clears the chat buffer; the next question starts it."
  (interactive)
  (when aiex-chat--pending (aiex-chat-stop))
  (setq aiex-chat-session-id nil
        aiex-chat--proposals nil
        aiex-chat-last-result nil)
  (with-current-buffer (aiex-chat-open)
    (let ((inhibit-read-only t)) (erase-buffer)))
  (aiex-chat--update-mode-line))

(defun aiex-chat--note (format-string &rest args)
  "Append a \"> \" line (FORMAT-STRING with ARGS) to the chat buffer, and show it."
  (let ((text (apply #'format format-string args)))
    (when (get-buffer aiex-chat-buffer-name)
      (aiex-chat--append-lines (list (concat "> " text) "")))
    (message "Aiex: %s" text)))

;;;###autoload
(defun aiex-chat-apply (&optional number reject)
  "Apply the edit the last answer proposes: proposal NUMBER, else its first.
With a numeric prefix argument, that proposal.  The server takes a
checkpoint and sends the edit as workspace/applyEdit (Eglot asks to
confirm it); \\[aiex-undo] restores the files.  With REJECT non-nil,
reject it instead."
  (interactive (list (and current-prefix-arg (prefix-numeric-value current-prefix-arg))))
  (let ((proposal (cl-find-if (lambda (p) (or (null number) (eql (aiex-chat--proposal-number p) number)))
                              aiex-chat--proposals)))
    (unless (and proposal aiex-chat-session-id)
      (user-error (if number (format "Aiex: no proposed edit %d in the last answer" number)
                    "Aiex: the last answer proposes no edit")))
    (let* ((found (aiex-chat--find aiex-chat--source))
           (client (car found))
           (conn (cdr found))
           (n (aiex-chat--proposal-number proposal)))
      (aiex-chat--sync-all client conn)
      (funcall (aiex-chat-client-request client) conn "aiex/applyChatEdit"
               (append (list :sessionId aiex-chat-session-id :proposal n)
                       (and reject (list :reject t)))
               (lambda (result)
                 (setq aiex-chat--proposals (delq proposal aiex-chat--proposals))
                 (let ((checkpoint (plist-get result :checkpoint)))
                   (aiex-chat--note
                    "Edit %d %s" n
                    (cond (reject "rejected")
                          ((eq (plist-get result :applied) t)
                           (concat "applied"
                                   (if checkpoint
                                       (format " (checkpoint %s; M-x aiex-undo restores)" checkpoint)
                                     "")))
                          (t "not applied")))))
               (lambda (err)
                 (aiex-chat--note "%s edit %d failed: %s" (if reject "Rejecting" "Applying") n
                                  (aiex-chat-error-message err)))
               aiex-chat-timeout
               (lambda ()
                 (aiex-chat--note "Edit %d: no answer from the server within %s s" n aiex-chat-timeout))))))

;;;###autoload
(defun aiex-chat-reject (&optional number)
  "Reject the edit the last answer proposes: proposal NUMBER, else its first.
With a numeric prefix argument, that proposal."
  (interactive (list (and current-prefix-arg (prefix-numeric-value current-prefix-arg))))
  (aiex-chat-apply number t))

;;;###autoload
(defun aiex-undo ()
  "Undo the last AI edit (chat or code action): aiex.undoLastAiEdit.
The server restores the files as they were before it (its checkpoint),
and refuses, saying why, when one changed since."
  (interactive)
  (let* ((found (aiex-chat--find (if (buffer-live-p aiex-chat--source) aiex-chat--source (current-buffer))))
         (client (car found))
         (conn (cdr found)))
    (aiex-chat--sync-all client conn)
    (funcall (aiex-chat-client-request client) conn "workspace/executeCommand"
             (list :command "aiex.undoLastAiEdit" :arguments [])
             (lambda (result)
               (let ((files (append (plist-get result :files) nil)))
                 (message "Aiex: restored %s from before the last AI edit"
                          (if files (string-join files ", ") "the files"))))
             (lambda (err)
               (message "Aiex: undo failed: %s" (aiex-chat-error-message err)))
             aiex-chat-timeout
             (lambda () (message "Aiex: undo: no answer from the server within %s s" aiex-chat-timeout)))))

;;; Checkpoints

(defconst aiex-checkpoint-buffer-name "*aiex-checkpoint*"
  "The buffer `aiex-checkpoints' shows a comparison in.")

(defvar-local aiex-checkpoint-id nil
  "The checkpoint the *aiex-checkpoint* buffer compares with the files now.")

(defun aiex-checkpoint-label (checkpoint)
  "One line of the pick list for CHECKPOINT, an `aiex/checkpoints' item:
\"3  Aiex chat: rewrite lib/a.ex  (lib/a.ex)\".  The id leads, so
labels are distinct."
  (format "%s  %s  (%s)" (plist-get checkpoint :id) (or (plist-get checkpoint :name) "")
          (mapconcat (lambda (file) (abbreviate-file-name (or (plist-get file :path) "")))
                     (plist-get checkpoint :files) ", ")))

(defun aiex-checkpoint-diff-text (files)
  "The text of a comparison: the unified diff of each of FILES (the
`aiex/compareCheckpoint' result, items {path, diff}), or a line saying
the file is as the checkpoint recorded it."
  (mapconcat (lambda (file)
               (let ((diff (plist-get file :diff)))
                 (if (and (stringp diff) (not (string-empty-p diff)))
                     (if (string-suffix-p "\n" diff) diff (concat diff "\n"))
                   (format "(%s is as the checkpoint recorded it)\n" (plist-get file :path)))))
             files ""))

(defun aiex-checkpoint-restore-params (checkpoint force)
  "The `workspace/executeCommand' params restoring CHECKPOINT (FORCE: even
over files changed since the AI edit)."
  (list :command "aiex.restoreCheckpoint"
        :arguments (vector (append (list :checkpoint checkpoint) (and force (list :force t))))))

(defun aiex-checkpoint--connection ()
  "The (CLIENT . CONNECTION) for a checkpoint command, with every buffer synced."
  (let* ((found (aiex-chat--find (if (aiex-chat--managing (current-buffer)) (current-buffer) aiex-chat--source))))
    (aiex-chat--sync-all (car found) (cdr found))
    found))

(defun aiex-checkpoint--with (found id prompt then)
  "Call THEN with the checkpoint ID, or the one picked (`completing-read'
with PROMPT) from the server's list when ID is nil.  FOUND is the
\(CLIENT . CONNECTION) to ask."
  (if id
      (funcall then id)
    (funcall (aiex-chat-client-request (car found)) (cdr found) "aiex/checkpoints" nil
             (lambda (checkpoints)
               (let ((labels (mapcar (lambda (c) (cons (aiex-checkpoint-label c) (plist-get c :id)))
                                     checkpoints)))
                 (if (null labels)
                     (message "Aiex: there is no AI edit to go back to")
                   ;; Newest first, as the server lists them: the default is the last AI edit.
                   (let ((picked (completing-read prompt labels nil t nil nil (caar labels))))
                     (funcall then (cdr (assoc picked labels)))))))
             (lambda (err) (message "Aiex: listing checkpoints failed: %s" (aiex-chat-error-message err)))
             aiex-chat-timeout
             (lambda () (message "Aiex: checkpoints: no answer from the server within %s s" aiex-chat-timeout)))))

(defun aiex-checkpoint--show (checkpoint files)
  "Show FILES, the comparison with CHECKPOINT, in a `diff-mode' buffer."
  (with-current-buffer (get-buffer-create aiex-checkpoint-buffer-name)
    (let ((inhibit-read-only t))
      (erase-buffer)
      (insert (aiex-checkpoint-diff-text files))
      (goto-char (point-min))
      (diff-mode)
      (setq aiex-checkpoint-id checkpoint)
      (setq buffer-read-only t)
      (set-buffer-modified-p nil))
    (display-buffer (current-buffer))
    (current-buffer)))

;;;###autoload
(defun aiex-checkpoints (&optional id)
  "Compare a checkpoint with the files now, in a `diff-mode' buffer.
The checkpoint is picked from the server's list (one is taken before
every AI edit, newest first); with a numeric prefix argument, checkpoint
ID.  \\[aiex-restore-checkpoint] puts the files back as it recorded them."
  (interactive (list (and current-prefix-arg (prefix-numeric-value current-prefix-arg))))
  (let ((found (aiex-checkpoint--connection)))
    (aiex-checkpoint--with
     found id "Aiex: compare which checkpoint with the files now? "
     (lambda (checkpoint)
       (funcall (aiex-chat-client-request (car found)) (cdr found) "aiex/compareCheckpoint"
                (list :checkpoint checkpoint)
                (lambda (files) (aiex-checkpoint--show checkpoint files))
                (lambda (err) (message "Aiex: comparing failed: %s" (aiex-chat-error-message err)))
                aiex-chat-timeout
                (lambda () (message "Aiex: compare: no answer from the server within %s s" aiex-chat-timeout)))))))

;;;###autoload
(defun aiex-restore-checkpoint (&optional force id)
  "Restore the files as a checkpoint recorded them: aiex.restoreCheckpoint.
The checkpoint is picked from the server's list (newest first), or is
ID from Lisp.  The server refuses, saying why, when a file changed since
the AI edit; with a prefix argument (FORCE), it restores anyway and those
changes are lost."
  (interactive "P")
  (let ((found (aiex-checkpoint--connection))
        (force (and force t)))
    (aiex-checkpoint--with
     found id (if force "Aiex: restore (even over later changes) which checkpoint? "
                "Aiex: restore the files as which checkpoint recorded them? ")
     (lambda (checkpoint)
       (funcall (aiex-chat-client-request (car found)) (cdr found) "workspace/executeCommand"
                (aiex-checkpoint-restore-params checkpoint force)
                (lambda (result)
                  (let ((files (append (plist-get result :files) nil)))
                    (message "Aiex: restored %s from checkpoint %s"
                             (if files (string-join files ", ") "the files") checkpoint)))
                (lambda (err)
                  (message "Aiex: restore failed: %s%s" (aiex-chat-error-message err)
                           (if force "" " (C-u M-x aiex-restore-checkpoint restores anyway)")))
                aiex-chat-timeout
                (lambda () (message "Aiex: restore: no answer from the server within %s s" aiex-chat-timeout)))))))

(provide 'aiex-chat)
;;; aiex-chat.el ends here
