;;; aiex-common.el --- Settings and helpers shared by aiex-eglot and aiex-lsp  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The Aiex authors. MIT License.

;;; Commentary:

;; Customization for the Aiex language server, used by both Emacs LSP
;; clients: `aiex-eglot' (Eglot) and `aiex-lsp' (lsp-mode).

;;; Code:

(require 'cl-lib)
(require 'subr-x)

(defgroup aiex nil
  "Aiex: AI completion, explanations, refactors and offline checks for Elixir."
  :group 'tools
  :prefix "aiex-")

(defcustom aiex-server-program "aiex"
  "The aiex executable: a name looked up on `exec-path', or an absolute path."
  :type 'string)

(defcustom aiex-server-args nil
  "Extra arguments for `aiex-server-program'."
  :type '(repeat string))

(defcustom aiex-settings nil
  "The Aiex server configuration, as a plist in its JSON shape.
Sent as initializationOptions and as the workspace configuration
section `aiex'.  Keys left out keep the server's defaults (and those
of the project's .aiex.toml).  API keys are never put here: name the
environment variable holding one in :api_key_env.  Example:

  (:providers (:local (:kind \"ollama\" :model \"qwen2.5-coder:1.5b\")
               :hosted (:kind \"anthropic\" :model \"claude-haiku-4-5\"
                        :api_key_env \"ANTHROPIC_API_KEY\"))
   :features (:completion (:providers [\"local\" \"hosted\"])))"
  :type 'sexp)

(defcustom aiex-major-modes '(elixir-mode elixir-ts-mode heex-ts-mode)
  "Major modes in which Aiex runs."
  :type '(repeat symbol))

(defconst aiex-minimum-server-version "0.1.0"
  "The oldest aiex binary this package works with (the package's own version).
Sent in the client capabilities as experimental.aiex.minimumServerVersion,
as the VS Code and Neovim packages do: an older binary says so in a
message asking to update it, and goes on serving.")

(defun aiex-client-experimental-capabilities (experimental)
  "EXPERIMENTAL client capabilities (a plist, a hash table or nil) plus aiex's.
aiex's is `aiex-minimum-server-version', under :aiex; EXPERIMENTAL itself
is left as it was."
  (let ((aiex (list :minimumServerVersion aiex-minimum-server-version)))
    (cond ((and (hash-table-p experimental) (> (hash-table-count experimental) 0))
           (let ((copy (copy-hash-table experimental)))
             (puthash "aiex" aiex copy)
             copy))
          ((and experimental (listp experimental))
           (plist-put (copy-sequence experimental) :aiex aiex))
          (t (list :aiex aiex)))))

(defconst aiex-action-commands
  '((explain . "aiex.explain")
    (refactor . "aiex.refactor")
    (generate-tests . "aiex.generateTests")
    (add-docs . "aiex.addDocs"))
  "The server commands behind `aiex-explain' and friends.")

(defun aiex-server-command ()
  "The command line that starts aiex, or a `user-error' saying how to fix it."
  (let ((program (executable-find aiex-server-program)))
    (unless program
      (user-error "aiex binary not found (%s): set `aiex-server-program' or put aiex on `exec-path'"
                  aiex-server-program))
    (cons program aiex-server-args)))

(defun aiex-pick-action (actions command)
  "The first enabled code action in ACTIONS whose command is COMMAND.
ACTIONS is a list or vector of LSP CodeAction or Command plists.
Signals a `user-error' saying what to do when there is none."
  (let (disabled)
    (or (cl-loop for a across (vconcat actions)
                 for cmd = (plist-get a :command)
                 for name = (if (stringp cmd) cmd (plist-get cmd :command))
                 when (equal name command)
                 if (plist-get a :disabled)
                 do (setq disabled (or disabled (plist-get (plist-get a :disabled) :reason)))
                 else return a)
        (if disabled
            (user-error "Aiex cannot do that here: %s" disabled)
          (user-error "Aiex offers no such action here: put point inside a function (def/defp)")))))

(defun aiex-with-instruction (arguments instruction)
  "ARGUMENTS (a vector) with INSTRUCTION added for `aiex.refactor'."
  (let ((args (append arguments nil)))
    (if (or (null instruction) (string-empty-p (string-trim instruction)))
        (vconcat args)
      (let ((first (car args)))
        (if (and (consp first) (keywordp (car first)))
            (vconcat (cons (append first (list :instruction (string-trim instruction))) (cdr args)))
          (vconcat args (list (list :instruction (string-trim instruction)))))))))

(defun aiex-project-root (dir)
  "The project root of DIR: the nearest mix.exs directory (the umbrella's
for an app under apps/), else nil."
  (let ((project (locate-dominating-file dir "mix.exs")))
    (when project
      (let* ((project (file-name-as-directory (expand-file-name project)))
             (apps (file-name-directory (directory-file-name project)))
             (umbrella (file-name-directory (directory-file-name apps))))
        (if (and (equal (file-name-nondirectory (directory-file-name apps)) "apps")
                 (file-exists-p (expand-file-name "mix.exs" umbrella)))
            umbrella
          project)))))

(defun aiex-project-try-mix (dir)
  "A `project-find-functions' entry: a Mix project's root is its mix.exs directory.
Opt in with (add-hook \\='project-find-functions #\\='aiex-project-try-mix)
so that Eglot starts aiex at the Mix project root rather than at the
repository root."
  (let ((root (aiex-project-root dir)))
    (when root (cons 'transient root))))

(provide 'aiex-common)
;;; aiex-common.el ends here
