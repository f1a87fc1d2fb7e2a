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

;;; Code:

(require 'eglot)
(require 'aiex-common)

(defun aiex-eglot-contact (&optional _interactive)
  "Eglot contact for aiex: its command line and initializationOptions."
  (append (aiex-server-command)
          (list :initializationOptions (lambda (_server) (or aiex-settings (make-hash-table))))))

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

(provide 'aiex-eglot)
;;; aiex-eglot.el ends here
