;;; unit.el --- Unit tests of aiex-common.el's pure helpers  -*- lexical-binding: t; -*-

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

(aiex-test-finish)
;;; unit.el ends here
