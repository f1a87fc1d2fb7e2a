//! Configuration read at the wrong time: `Application.get_env` in a module attribute (compile
//! time), and `Mix.env` outside `mix.exs` (Mix is absent from releases).

use tree_sitter::Node;

use super::syntax::CallName;
use super::{CheckId, Ctx, Fix};

/// Dispatches one call node.
pub(crate) fn call<'a>(ctx: &mut Ctx<'a>, node: Node<'a>, name: &CallName<'a>) {
    match (name.module, name.fun) {
        (Some("Application"), "get_env" | "fetch_env!" | "fetch_env")
            if ctx.on(CheckId::GetEnvInAttribute) && !ctx.attributes.is_empty() =>
        {
            let replacement = match name.fun {
                "fetch_env!" => Some("compile_env!"),
                "get_env" => Some("compile_env"),
                // fetch_env returns {:ok, v} | :error: no compile-time twin with that shape.
                _ => None,
            };
            let fixes = match (replacement, node.child_by_field_id(ctx.k.f_target)) {
                (Some(new), Some(target)) => target
                    .child_by_field_id(ctx.k.f_right)
                    .map(|fun| {
                        vec![Fix::replace(
                            format!("Use Application.{new}"),
                            fun.start_byte(),
                            fun.end_byte(),
                            new,
                        )]
                    })
                    .unwrap_or_default(),
                _ => vec![],
            };
            let msg = format!(
                "Application.{} in a module attribute is read at compile time: use Application.compile_env",
                name.fun
            );
            ctx.emit(CheckId::GetEnvInAttribute, node, msg, fixes);
        }
        (Some("Mix"), "env" | "target")
            if ctx.on(CheckId::MixEnv) && !ctx.path.is_mix_exs && !ctx.path.in_mix_tasks =>
        {
            let msg = format!(
                "Mix.{}() outside mix.exs: Mix is not available in releases",
                name.fun
            );
            ctx.emit(CheckId::MixEnv, node, msg, vec![]);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::CheckId;
    use expect_test::expect;

    #[test]
    fn get_env_in_module_attribute() {
        let src = r#"defmodule App.Mailer do
  @from Application.get_env(:app, :from, "noreply@example.com")
  @adapter Application.fetch_env!(:app, :adapter) |> Keyword.get(:module)
  @maybe Application.fetch_env(:app, :maybe)
  @compiled Application.compile_env(:app, :key)
  @doc "Uses Application.get_env at runtime."
  def from, do: Application.get_env(:app, :from)
  def attr, do: @from
end
"#;
        expect![[r#"
            2:9 warning config/get-env-in-attribute: Application.get_env in a module attribute is read at compile time: use Application.compile_env [fix: Use Application.compile_env] `Application.get_env(:app, :from, "norepl`
            3:12 warning config/get-env-in-attribute: Application.fetch_env! in a module attribute is read at compile time: use Application.compile_env [fix: Use Application.compile_env!] `Application.fetch_env!(:app, :adapter)`
            4:10 warning config/get-env-in-attribute: Application.fetch_env in a module attribute is read at compile time: use Application.compile_env `Application.fetch_env(:app, :maybe)`
        "#]]
        .assert_eq(&render_only(src, "lib/app/mailer.ex", CheckId::GetEnvInAttribute));
        assert_eq!(
            apply_fix(
                "@from Application.get_env(:app, :from)\n",
                CheckId::GetEnvInAttribute
            ),
            "@from Application.compile_env(:app, :from)\n"
        );
    }

    #[test]
    fn mix_env_outside_mix_exs() {
        let src =
            "def dev?, do: Mix.env() == :dev\ndef t, do: Mix.target\ndef e, do: config_env()\n";
        expect![[r#"
            1:15 warning config/mix-env: Mix.env() outside mix.exs: Mix is not available in releases `Mix.env()`
            2:12 warning config/mix-env: Mix.target() outside mix.exs: Mix is not available in releases `Mix.target`
        "#]]
        .assert_eq(&render_only(src, "lib/app.ex", CheckId::MixEnv));
        assert_eq!(render_only(src, "mix.exs", CheckId::MixEnv), "");
        assert_eq!(render_only(src, "apps/web/mix.exs", CheckId::MixEnv), "");
        assert_eq!(
            render_only(src, "lib/mix/tasks/app.gen.ex", CheckId::MixEnv),
            ""
        );
    }
}
