;;; helpers.el --- Shared by the Emacs real-client tests  -*- lexical-binding: t; -*-

;; Loaded by test.el (Eglot) and lsp-mode-test.el: paths, the check macro,
;; and small helpers.  Prints one "ok"/"not ok"/"skip" line per check.

(require 'cl-lib)
(require 'subr-x)

(defconst aiex-test-dir (file-name-directory (or load-file-name buffer-file-name)))
(defconst aiex-test-repo (expand-file-name "../../../" aiex-test-dir))
(defconst aiex-test-project (expand-file-name "../fixtures/greeter/" aiex-test-dir))
(defconst aiex-test-bin
  (expand-file-name (let ((env (getenv "AIEX_BIN")))
                      (if (and env (not (string-empty-p env))) env "target/debug/aiex"))
                    aiex-test-repo))
(defconst aiex-test-timeout
  (/ (string-to-number (or (getenv "AIEX_TEST_TIMEOUT_MS") "15000")) 1000.0))

(add-to-list 'load-path (expand-file-name "editors/emacs" aiex-test-repo))

;; Debian 12 has no elixir-mode package: a stand-in major mode of the same
;; name, which is what Eglot keys on (and from which it derives the
;; languageId "elixir").
(unless (fboundp 'elixir-mode)
  (define-derived-mode elixir-mode prog-mode "Elixir"))

(defvar aiex-test-prefix "emacs" "Names the client in every result line.")
(defvar aiex-test-passed 0)
(defvar aiex-test-failed 0)
(defvar aiex-test-skipped 0)

(defun aiex-test-out (fmt &rest args)
  (princ (concat (apply #'format fmt args) "\n")))

(defmacro aiex-test-check (name &rest body)
  "Run BODY as the check NAME: an error fails it, returning (skip REASON) skips it."
  (declare (indent 1))
  `(condition-case err
       (let ((res (progn ,@body)))
         (if (eq (car-safe res) 'skip)
             (progn (cl-incf aiex-test-skipped) (aiex-test-out "skip - %s: %s (%s)" aiex-test-prefix ,name (cadr res)))
           (cl-incf aiex-test-passed) (aiex-test-out "ok - %s: %s" aiex-test-prefix ,name)))
     (error (cl-incf aiex-test-failed)
            (aiex-test-out "not ok - %s: %s: %s" aiex-test-prefix ,name (error-message-string err)))))

(defvar aiex-test-shutdown #'ignore "How the test stops its client.")

(defun aiex-test-use-eglot ()
  "Drive aiex through Eglot: waits as long as the tests do, no reconnects, no event log."
  (require 'aiex-eglot)
  (setq aiex-test-shutdown #'eglot-shutdown-all)
  (setq eglot-sync-connect aiex-test-timeout
        eglot-connect-timeout aiex-test-timeout
        eglot-autoreconnect nil
        eglot-events-buffer-size 0
        jsonrpc-default-request-timeout aiex-test-timeout))

(defun aiex-test-shown-comparison ()
  "The text of the *aiex-checkpoint* buffer once `aiex-checkpoints' showed it, else nil."
  (when-let ((buffer (get-buffer "*aiex-checkpoint*")))
    (with-current-buffer buffer (and (eq major-mode 'diff-mode) (buffer-string)))))

(defun aiex-test-expect-farewell-diff (diff)
  "Fail unless DIFF, a checkpoint compared with the files now, shows the farewell edit."
  (unless (string-match-p (regexp-quote "+  def farewell") diff)
    (error "The comparison does not show the AI edit:\n%s" diff)))

(defun aiex-test-finish ()
  (ignore-errors (funcall aiex-test-shutdown))
  (aiex-test-out "%s: %d passed, %d failed, %d skipped"
                 aiex-test-prefix aiex-test-passed aiex-test-failed aiex-test-skipped)
  (kill-emacs (if (> aiex-test-failed 0) 1 0)))

(defun aiex-test-goto (anchor needle)
  "Put point on NEEDLE in the line holding ANCHOR."
  (goto-char (point-min))
  (unless (search-forward anchor nil t) (error "Fixture changed: no line with %s" anchor))
  (beginning-of-line)
  (search-forward needle (line-end-position))
  (goto-char (match-beginning 0)))

(defun aiex-test-hover-text (contents)
  (cond ((stringp contents) contents)
        ((plist-get contents :value))
        ((vectorp contents)
         (mapconcat (lambda (c) (if (stringp c) c (plist-get c :value))) contents "\n"))
        (t (format "%S" contents))))

(defun aiex-test-imenu-names (index)
  "All entry names in an imenu INDEX, nested or not."
  (cl-loop for (name . rest) in index
           if (and (listp rest) (consp (car-safe rest))) append (aiex-test-imenu-names rest)
           else collect name))

(defvar aiex-test-messages nil "Every message shown during the test, newest first.")
(advice-add 'message :around
            (lambda (orig fmt &rest args)
              (let ((text (apply orig fmt args)))
                (when text (push text aiex-test-messages))
                text)))

(defun aiex-test-check-no-complaint ()
  "Fail when the server reported a configuration problem (window/showMessage)."
  (let ((deadline (+ (float-time) 0.3)))
    (while (< (float-time) deadline) (accept-process-output nil 0.05)))
  (let ((complaint (cl-find-if (lambda (m) (string-match-p "Aiex configuration" m)) aiex-test-messages)))
    (when complaint (error "The server complained: %s" complaint))))

(provide 'aiex-test-helpers)
;;; helpers.el ends here
