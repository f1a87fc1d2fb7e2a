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
;; (bound to s-l a a by lsp-mode's default keymap).

;;; Code:

(require 'lsp-mode)
(require 'aiex-common)

;; lsp-mode knows elixir-mode; the tree-sitter modes may be newer than it.
(dolist (entry '((elixir-ts-mode . "elixir") (heex-ts-mode . "phoenix-heex")))
  (unless (assq (car entry) lsp-language-id-configuration)
    (add-to-list 'lsp-language-id-configuration entry)))

(defun aiex-lsp--activate-p (_file-name mode)
  "Whether aiex runs in a buffer of major MODE."
  (memq mode aiex-major-modes))

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
  :initialized-fn (lambda (workspace)
                    (with-lsp-workspace workspace
                      (lsp--set-configuration (list :aiex (or aiex-settings (make-hash-table))))))))

(provide 'aiex-lsp)
;;; aiex-lsp.el ends here
