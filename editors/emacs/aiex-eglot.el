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
          (list :initializationOptions (lambda (_server) (or aiex-settings eglot--{})))))

;;;###autoload
(defun aiex-eglot-setup ()
  "Register aiex with Eglot for `aiex-major-modes'.
Also makes `aiex-settings' the default workspace configuration section
`aiex' unless the project sets `eglot-workspace-configuration' itself."
  (setf (alist-get aiex-major-modes eglot-server-programs nil nil #'equal) #'aiex-eglot-contact)
  (when (and aiex-settings (null (default-value 'eglot-workspace-configuration)))
    (setq-default eglot-workspace-configuration (list :aiex aiex-settings))))

(defun aiex-eglot--execute (server action instruction)
  "Run code ACTION (a plist) on SERVER, adding INSTRUCTION to its arguments."
  (let ((edit (plist-get action :edit))
        (command (plist-get action :command)))
    (when (stringp command) (setq command action)) ; a bare Command
    (when edit (eglot--apply-workspace-edit edit))
    (when command
      (let ((result (eglot-execute-command
                     server (intern (plist-get command :command))
                     (aiex-with-instruction (plist-get command :arguments) instruction))))
        (when (and (stringp result) (not (string-empty-p result)))
          (aiex-eglot--show-text result))
        result))))

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
         (status (eglot-execute-command server 'aiex.status [])))
    (message "Aiex: %s" (json-encode status))))

(provide 'aiex-eglot)
;;; aiex-eglot.el ends here
