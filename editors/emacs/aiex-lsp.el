;;; aiex-lsp.el --- Aiex language server for lsp-mode  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The Aiex authors. MIT License.
;; Package-Requires: ((emacs "27.1") (lsp-mode "8.0"))

;;; Commentary:

;; (require 'aiex-lsp)               ; registers the `aiex' client
;; (add-hook 'elixir-mode-hook #'lsp-deferred)
;;
;; aiex is registered as an add-on: it runs beside ElixirLS or Expert, which
;; keep navigation and formatting, while aiex adds AI completion items,
;; explanations in hover, code actions and its checks.  The Explain /
;; Refactor / Generate tests / Add docs actions are in `lsp-execute-code-action'
;; (bound to s-l a a by lsp-mode's default keymap).  M-x aiex-chat talks with
;; the server in the *aiex-chat* buffer (aiex-chat.el; this file gives it the
;; lsp-mode connection).

;;; Code:

(require 'lsp-mode)
(require 'aiex-common)
(require 'aiex-chat)

;; lsp-mode knows elixir-mode; the tree-sitter modes may be newer than it.
(dolist (entry '((elixir-ts-mode . "elixir") (heex-ts-mode . "phoenix-heex")))
  (unless (assq (car entry) lsp-language-id-configuration)
    (add-to-list 'lsp-language-id-configuration entry)))

(defun aiex-lsp--activate-p (_file-name mode)
  "Whether aiex runs in a buffer of major MODE."
  (memq mode aiex-major-modes))

(defun aiex-lsp--plist (value)
  "VALUE as parsed by Eglot: objects as plists (lsp-mode may give hash tables)."
  (cond ((hash-table-p value)
         (let (plist)
           (maphash (lambda (k v) (setq plist (cons (aiex-lsp--plist v) (cons (intern (concat ":" k)) plist))))
                    value)
           (nreverse plist)))
        ((vectorp value) (vconcat (mapcar #'aiex-lsp--plist value)))
        ;; A list that is not a plist: an array (lsp-mode gives a result that is an array,
        ;; such as the `aiex/checkpoints' list, as a list).
        ((and (consp value) (not (keywordp (car value)))) (mapcar #'aiex-lsp--plist value))
        (t value)))

(defun aiex-lsp--chat-delta (_workspace params)
  "`aiex/chatDelta' PARAMS: a piece of a chat answer, for the *aiex-chat* buffer."
  (let ((params (aiex-lsp--plist params)))
    (aiex-chat-on-delta (plist-get params :token) (plist-get params :text))))

(defun aiex-lsp--aiex-p (workspace)
  "Whether WORKSPACE is a running aiex server."
  (and (eq (lsp--client-server-id (lsp--workspace-client workspace)) 'aiex)
       (eq (lsp--workspace-status workspace) 'initialized)))

(defun aiex-lsp--chat-connection (buffer)
  "The aiex workspace managing BUFFER, or nil."
  (with-current-buffer buffer
    (and (bound-and-true-p lsp-mode)
         (cl-find-if #'aiex-lsp--aiex-p (lsp-workspaces)))))

(defun aiex-lsp--chat-any ()
  "Some running aiex workspace."
  (cl-find-if #'aiex-lsp--aiex-p (and (lsp-session) (lsp--session-workspaces (lsp-session)))))

(defun aiex-lsp--chat-request (workspace method params on-result on-error timeout on-timeout)
  "Send METHOD with PARAMS to WORKSPACE alone; see `aiex-chat-client'.
Returns (ID WORKSPACE TIMER).  lsp-mode's asynchronous requests have no
timeout of their own: TIMER calls ON-TIMEOUT after TIMEOUT seconds."
  (let* ((timer nil)
         (done (lambda () (when timer (cancel-timer timer))))
         (body (with-lsp-workspace workspace
                 (lsp-request-async method params
                                    (lambda (result) (funcall done) (funcall on-result (aiex-lsp--plist result)))
                                    :mode 'detached
                                    :error-handler
                                    (lambda (err) (funcall done) (funcall on-error (aiex-lsp--plist err)))))))
    (setq timer (run-with-timer timeout nil on-timeout))
    (list (plist-get body :id) workspace timer)))

(defun aiex-lsp--chat-cancel (_workspace handle)
  "$/cancelRequest for the request HANDLE, (ID WORKSPACE TIMER)."
  (pcase-let ((`(,id ,workspace ,timer) handle))
    (when timer (cancel-timer timer))
    (when id (with-lsp-workspace workspace (lsp--cancel-request id)))))

(defun aiex-lsp--chat-sync (buffer)
  "Send BUFFER's delayed changes, if lsp-mode holds any."
  (with-current-buffer buffer
    (when (and (bound-and-true-p lsp-mode) (fboundp 'lsp--flush-delayed-changes))
      (lsp--flush-delayed-changes))))

(defun aiex-lsp--chat-document (buffer)
  "BUFFER's TextDocumentIdentifier."
  (with-current-buffer buffer (lsp--text-document-identifier)))

(defun aiex-lsp--chat-position (buffer pos)
  "POS in BUFFER as an LSP position (lsp-mode counts characters)."
  (with-current-buffer buffer (lsp--point-to-position pos)))

(aiex-chat-register-client
 (aiex-chat-client-create
  :name "lsp-mode"
  :connection #'aiex-lsp--chat-connection
  :any #'aiex-lsp--chat-any
  :request #'aiex-lsp--chat-request
  :cancel #'aiex-lsp--chat-cancel
  :sync #'aiex-lsp--chat-sync
  :document #'aiex-lsp--chat-document
  :position #'aiex-lsp--chat-position))

(lsp-register-client
 (make-lsp-client
  :new-connection (lsp-stdio-connection
                   (lambda () (aiex-server-command))
                   (lambda () (executable-find aiex-server-program)))
  :activation-fn #'aiex-lsp--activate-p
  :add-on? t
  :priority -2
  :server-id 'aiex
  :initialization-options (lambda () (or aiex-settings (make-hash-table)))
  ;; lsp-mode appends these (an alist) to its own client capabilities, which have no
  ;; `experimental' of their own.
  :custom-capabilities `((experimental . ,(aiex-client-experimental-capabilities nil)))
  :notification-handlers (let ((handlers (make-hash-table :test #'equal)))
                           (puthash "aiex/chatDelta" #'aiex-lsp--chat-delta handlers)
                           handlers)
  :initialized-fn (lambda (workspace)
                    (with-lsp-workspace workspace
                      (lsp--set-configuration (list :aiex (or aiex-settings (make-hash-table))))))))

(provide 'aiex-lsp)
;;; aiex-lsp.el ends here
