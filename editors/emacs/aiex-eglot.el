;;; aiex-eglot.el --- Aiex language server for Eglot  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The Aiex authors. MIT License.
;; Package-Requires: ((emacs "28.1") (eglot "1.9"))

;;; Commentary:

;; (require 'aiex-eglot)
;; (aiex-eglot-setup)                ; registers aiex for `aiex-major-modes'
;; (add-hook 'elixir-mode-hook #'eglot-ensure)
;;
;; Eglot runs one server per buffer, so in Eglot aiex takes the place of
;; ElixirLS/Expert for these modes; use lsp-mode (aiex-lsp.el) to run both.
;; Completion comes as standard completion items (completion-at-point).
;; M-x aiex-chat talks with the server in the *aiex-chat* buffer (aiex-chat.el;
;; this file gives it the Eglot connection).

;;; Code:

(require 'eglot)
(require 'aiex-common)
(require 'aiex-chat)

(defclass aiex-eglot-server (eglot-lsp-server) ()
  :documentation "An aiex server: Eglot's, with the client capabilities aiex reads.")

(cl-defmethod eglot-client-capabilities ((_server aiex-eglot-server))
  "Eglot's capabilities plus the minimum server version this package needs."
  (let ((capabilities (copy-sequence (cl-call-next-method))))
    (plist-put capabilities :experimental
               (aiex-client-experimental-capabilities (plist-get capabilities :experimental)))))

(defun aiex-eglot-contact (&optional _interactive)
  "Eglot contact for aiex: server class, command line, initializationOptions."
  (cons 'aiex-eglot-server
        (append (aiex-server-command)
                (list :initializationOptions (lambda (_server) (or aiex-settings (make-hash-table)))))))

;;;###autoload
(defun aiex-eglot-setup ()
  "Register aiex with Eglot for `aiex-major-modes'.
Also makes `aiex-settings' the default workspace configuration section
`aiex' unless the project sets `eglot-workspace-configuration' itself."
  (setf (alist-get aiex-major-modes eglot-server-programs nil nil #'equal) #'aiex-eglot-contact)
  (when (and aiex-settings (null (default-value 'eglot-workspace-configuration)))
    (setq-default eglot-workspace-configuration (list :aiex aiex-settings))))

(defun aiex-eglot--execute (server action instruction)
  "Run code ACTION (a CodeAction or Command plist) on SERVER.
INSTRUCTION, if any, is added to the command's arguments (Refactor).
Returns the command's result."
  (let* ((bare (stringp (plist-get action :command)))
         (command (if bare action (plist-get action :command)))
         (command (and command
                       (plist-put (copy-sequence command) :arguments
                                  (aiex-with-instruction (plist-get command :arguments) instruction))))
         (result
          (if (fboundp 'eglot-execute)
              ;; Eglot 1.15+ (Emacs 30): applies the edit and runs the command.
              (eglot-execute server (if bare command (plist-put (copy-sequence action) :command command)))
            ;; Eglot 1.9 (Debian's, Emacs 28).
            (when-let ((edit (plist-get action :edit))) (eglot--apply-workspace-edit edit))
            (when command
              (eglot-execute-command server (intern (plist-get command :command))
                                     (plist-get command :arguments))))))
    ;; Clients without window/showDocument (Eglot 1.9) get Explain's text in the result.
    (when (and (stringp result) (not (string-empty-p result)))
      (aiex-eglot--show-text result))
    result))

(defun aiex-eglot--show-text (text)
  "Show an explanation TEXT in a help-like buffer."
  (with-current-buffer (get-buffer-create "*aiex*")
    (let ((inhibit-read-only t))
      (erase-buffer)
      (insert text)
      (when (fboundp 'gfm-view-mode) (gfm-view-mode)))
    (display-buffer (current-buffer))))

(defun aiex-eglot-run (name &optional instruction)
  "Run the aiex action NAME (a key of `aiex-action-commands') at point."
  (let* ((server (eglot--current-server-or-lose))
         (bounds (if (use-region-p) (list (region-beginning) (region-end)) (list (point) (point))))
         (actions (eglot-code-actions (car bounds) (cadr bounds)))
         (action (aiex-pick-action actions (alist-get name aiex-action-commands))))
    (aiex-eglot--execute server action instruction)))

;;;###autoload
(defun aiex-explain ()
  "Explain the function at point."
  (interactive)
  (aiex-eglot-run 'explain))

;;;###autoload
(defun aiex-refactor (instruction)
  "Refactor the function at point, following INSTRUCTION (may be empty)."
  (interactive "sRefactor how? (empty: general clean-up) ")
  (aiex-eglot-run 'refactor instruction))

;;;###autoload
(defun aiex-generate-tests ()
  "Generate ExUnit tests for the function at point."
  (interactive)
  (aiex-eglot-run 'generate-tests))

;;;###autoload
(defun aiex-add-docs ()
  "Add @doc and @spec to the function at point."
  (interactive)
  (aiex-eglot-run 'add-docs))

;;;###autoload
(defun aiex-status ()
  "Show the server's status: providers, states, cost today."
  (interactive)
  (let* ((server (eglot--current-server-or-lose))
         (status (jsonrpc-request server :workspace/executeCommand
                                  '(:command "aiex.status" :arguments []))))
    (message "Aiex: %s" (json-encode status))))

;;; Chat (aiex-chat.el) through Eglot

(defun aiex-eglot--aiex-p (server)
  "Whether the Eglot SERVER is aiex (its initialize answer names it)."
  (let ((info (and (fboundp 'eglot--server-info) (eglot--server-info server))))
    (or (null info) (equal (plist-get info :name) "aiex"))))

(defun aiex-eglot--chat-connection (buffer)
  "The aiex server managing BUFFER, or nil."
  (with-current-buffer buffer
    (when-let ((server (and (bound-and-true-p eglot--managed-mode) (eglot-current-server))))
      (and (jsonrpc-running-p server) (aiex-eglot--aiex-p server) server))))

(defun aiex-eglot--chat-any ()
  "Some running aiex server."
  (cl-loop for servers being the hash-values of eglot--servers-by-project
           thereis (cl-find-if (lambda (s) (and (jsonrpc-running-p s) (aiex-eglot--aiex-p s))) servers)))

(defun aiex-eglot--chat-request (server method params on-result on-error timeout on-timeout)
  "Send METHOD with PARAMS to SERVER; see `aiex-chat-client'.
Returns (ID TIMER).  jsonrpc's own default timeout (10 s) would cut a
chat answer short, hence TIMEOUT."
  (let ((method (intern (concat ":" method)))
        (args (list :success-fn on-result :error-fn on-error
                    :timeout timeout :timeout-fn on-timeout)))
    (if (fboundp 'jsonrpc--async-request-1)
        ;; Returns (ID TIMER) in jsonrpc 1.0.14 (Emacs 28) and later.
        (apply #'jsonrpc--async-request-1 server method params args)
      (apply #'jsonrpc-async-request server method params args)
      nil)))

(defun aiex-eglot--chat-cancel (server handle)
  "$/cancelRequest for the request HANDLE, (ID TIMER), sent to SERVER."
  (when-let ((timer (cadr handle))) (cancel-timer timer))
  (when-let ((id (car handle)))
    (jsonrpc-notify server :$/cancelRequest (list :id id))))

(defun aiex-eglot--chat-sync (buffer)
  "Send BUFFER's pending changes to its server."
  (with-current-buffer buffer
    (when (bound-and-true-p eglot--managed-mode)
      (eglot--signal-textDocument/didChange))))

(defun aiex-eglot--chat-document (buffer)
  "BUFFER's TextDocumentIdentifier."
  (with-current-buffer buffer (eglot--TextDocumentIdentifier)))

(defun aiex-eglot--chat-position (buffer pos)
  "POS in BUFFER as an LSP position, in the encoding Eglot and the server agreed."
  (with-current-buffer buffer (eglot--pos-to-lsp-position pos)))

(aiex-chat-register-client
 (aiex-chat-client-create
  :name "eglot"
  :connection #'aiex-eglot--chat-connection
  :any #'aiex-eglot--chat-any
  :request #'aiex-eglot--chat-request
  :cancel #'aiex-eglot--chat-cancel
  :sync #'aiex-eglot--chat-sync
  :document #'aiex-eglot--chat-document
  :position #'aiex-eglot--chat-position))

(cl-defmethod eglot-handle-notification
  (_server (_method (eql aiex/chatDelta)) &key token text &allow-other-keys)
  "`aiex/chatDelta': a piece of a chat answer, for the *aiex-chat* buffer."
  (aiex-chat-on-delta token text))

(provide 'aiex-eglot)
;;; aiex-eglot.el ends here
