;;; test.el --- Emacs batch test: Eglot drives the real aiex binary  -*- lexical-binding: t; -*-

;; AIEX_BIN=target/debug/aiex emacs --batch -q -l tests/editors/emacs/test.el
;;
;; -q (not -Q) so that Debian's site-start puts elpa-eglot on the load-path
;; (Emacs 28; Eglot is built in from Emacs 29).  Prints one "ok"/"not ok"/"skip"
;; line per check and exits non-zero when any failed.

(load (expand-file-name "helpers.el" (file-name-directory (or load-file-name buffer-file-name))) nil t)
(aiex-test-use-eglot)

(aiex-test-check "a missing binary is reported with the fix"
  (let* ((aiex-server-program "/nonexistent/aiex")
         (err (condition-case e (progn (aiex-eglot-contact) nil) (user-error (cadr e)))))
    (unless (and err (string-match-p "aiex binary not found" err) (string-match-p "aiex-server-program" err))
      (error "Expected a user-error naming the fix, got %S" err))))

(unless (file-executable-p aiex-test-bin)
  (aiex-test-check "aiex binary"
    (error "No executable at %s: build it (cargo build) or set AIEX_BIN" aiex-test-bin))
  (aiex-test-finish))

(setq aiex-server-program aiex-test-bin)
(let ((settings (getenv "AIEX_TEST_SETTINGS")))
  (when (and settings (not (string-empty-p settings)))
    (setq aiex-settings (json-parse-string settings :object-type 'plist :array-type 'array))))
(aiex-eglot-setup)
(add-hook 'project-find-functions #'aiex-project-try-mix)

(find-file (expand-file-name "lib/greeter.ex" aiex-test-project))
(elixir-mode)

(defvar aiex-test-server nil)

(aiex-test-check "attaches to an Elixir buffer at the mix project root"
  (apply #'eglot (eglot--guess-contact))
  (with-timeout (aiex-test-timeout (error "No connection within %ss" aiex-test-timeout))
    (while (not (setq aiex-test-server (eglot-current-server)))
      (accept-process-output nil 0.05)))
  (unless (eglot--server-capable :hoverProvider)
    (error "The server does not advertise hover"))
  (let ((root (project-root (eglot--project aiex-test-server))))
    (unless (equal (file-name-as-directory (expand-file-name root)) aiex-test-project)
      (error "Project root is %s, expected %s" root aiex-test-project))))

(unless aiex-test-server (aiex-test-finish))

(aiex-test-check "the client capabilities name the minimum server version (met: no complaint)"
  (let ((experimental (plist-get (eglot-client-capabilities aiex-test-server) :experimental)))
    (unless (equal (plist-get (plist-get experimental :aiex) :minimumServerVersion)
                   aiex-minimum-server-version)
      (error "experimental capabilities: %S" experimental))))

(aiex-test-check "the server accepts the configuration without complaint"
  (aiex-test-check-no-complaint))

(aiex-test-check "imenu (documentSymbol) lists the module and its functions"
  (let* ((index (eglot-imenu))
         (names (mapcar (lambda (n) (replace-regexp-in-string "[/ (].*" "" n))
                        (aiex-test-imenu-names index))))
    (dolist (want '("Greeter" "greet" "greet_all" "format_name"))
      (unless (member want names)
        (error "%s missing from imenu: %S" want names)))))

(aiex-test-check "hover on a call shows the callee's @spec and @doc"
  (aiex-test-goto "fn name -> greet(name)" "greet(")
  (let* ((hover (jsonrpc-request aiex-test-server :textDocument/hover
                                 (eglot--TextDocumentPositionParams)))
         (text (and hover (aiex-test-hover-text (plist-get hover :contents)))))
    (unless text (error "No hover at line %d" (line-number-at-pos)))
    (unless (string-match-p "Returns a greeting" text) (error "Hover lacks greet's @doc:\n%s" text))
    (unless (string-match-p (regexp-quote "String.t()") text) (error "Hover lacks greet's @spec:\n%s" text))))

(aiex-test-check "completion-at-point offers the fake provider's suggestion"
  (cond
   ((not (getenv "AIEX_TEST_SETTINGS"))
    '(skip "AIEX_TEST_SETTINGS (a fake provider) not set; run.sh sets it"))
   ((not (eglot--server-capable :completionProvider))
    '(skip "the server does not offer completion yet"))
   (t
    ;; An indented empty line between two functions, where a completion
    ;; would write a new one.
    (aiex-test-goto "defp format_name(name) do" "defp")
    (beginning-of-line)
    (let ((start (point)))
      (insert "  \n\n")
      (goto-char (+ start 2))
      (unwind-protect
          (let* ((capf (eglot-completion-at-point))
                 (items (and capf (all-completions "" (nth 2 capf)))))
            (unless items (error "No completion item"))
            (unless (cl-some (lambda (i) (string-match-p "farewell" (substring-no-properties i))) items)
              (error "No item carries the fake provider's text: %S" items)))
        (delete-region start (+ start 4)))))))

(aiex-test-check "Add docs (code action) inserts a doc comment and @spec above the private function"
  (cond
   ((not (getenv "AIEX_TEST_SETTINGS"))
    '(skip "AIEX_TEST_SETTINGS (a fake provider) not set; run.sh sets it"))
   ((not (and (eglot--server-capable :codeActionProvider)
              (seq-contains-p (eglot--server-capable :executeCommandProvider :commands) "aiex.addDocs")))
    '(skip "the server does not offer the aiex.addDocs action yet"))
   (t
    (let ((eglot-confirm-server-initiated-edits nil)
          (before (buffer-string)))
      (aiex-test-goto "defp format_name(name) do" "format_name")
      (aiex-add-docs)
      (with-timeout (aiex-test-timeout (error "The buffer did not change within %ss" aiex-test-timeout))
        (while (equal before (buffer-string)) (accept-process-output nil 0.05)))
      (aiex-test-goto "defp format_name(name) do" "defp")
      (let ((above (buffer-substring (save-excursion (forward-line -3) (point)) (point))))
        ;; format_name is private: Elixir discards @doc on defp, so the doc comes as a comment.
        (unless (and (string-match-p "@spec format_name" above) (string-match-p "# Trims" above)
                     (not (string-match-p "@doc" above)))
          (error "No doc comment and @spec right above format_name:\n%s" (buffer-string))))
      (unless (string-match-p (regexp-quote "def greet(name) do") (buffer-string))
        (error "The edit touched other functions"))))))

(aiex-test-check "Flymake shows the IO.inspect diagnostic and its quick fix removes it"
  (find-file (expand-file-name "lib/debugging.ex" aiex-test-project))
  (elixir-mode)
  (eglot-ensure)
  (let (diags)
    (with-timeout (3 nil)
      (while (not (setq diags (flymake-diagnostics)))
        (accept-process-output nil 0.05)))
    (if (null diags)
        '(skip "the server publishes no diagnostics yet")
      (let ((diag (cl-find-if (lambda (d) (string-match-p "IO.inspect" (flymake-diagnostic-text d))) diags)))
        (unless diag (error "No IO.inspect diagnostic: %S" (mapcar #'flymake-diagnostic-text diags)))
        (let* ((actions (eglot-code-actions (flymake-diagnostic-beg diag) (flymake-diagnostic-end diag) "quickfix"))
               (fix (cl-find-if (lambda (a) (plist-get a :edit)) actions)))
          (unless fix (error "No quick fix with an edit: %S" actions))
          (let ((eglot-confirm-server-initiated-edits nil))
            (eglot--apply-workspace-edit (plist-get fix :edit)))
          (when (string-match-p (regexp-quote "IO.inspect") (buffer-string))
            (error "IO.inspect is still there:\n%s" (buffer-string)))
          (unless (string-match-p (regexp-quote "String.upcase()") (buffer-string))
            (error "The fix removed more than the call:\n%s" (buffer-string))))))))

(aiex-test-finish)
;;; test.el ends here
