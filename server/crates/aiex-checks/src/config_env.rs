//! Configuration: `Application.get_env` in a module attribute (read at compile time), `Mix.env`
//! called at runtime (Mix is absent from releases), and Phoenix settings in the spirit of
//! Sobelow's Config family: CSRF protection and secure headers in browser pipelines, HTTPS in
//! `config/prod.exs` (a file-level check, from [`ConfigFacts`] kept per form).

use tree_sitter::Node;

use super::syntax::{self, CallName};
use super::{CheckId, Ctx, Fix};

/// What the file-level HTTPS check needs of one form of `config/prod.exs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ConfigFacts {
    /// The first `config :app, *.Endpoint, ...` call.
    endpoint: Option<(usize, usize)>,
    /// Whether `force_ssl` is set.
    force_ssl: bool,
    /// Where `hsts: false` is written.
    hsts_off: Option<(usize, usize)>,
}

impl ConfigFacts {
    /// The same facts for a form moved by `shift` bytes.
    pub fn moved(&self, shift: impl Fn(usize) -> usize) -> ConfigFacts {
        let moved = |r: Option<(usize, usize)>| r.map(|(a, b)| (shift(a), shift(b)));
        ConfigFacts {
            endpoint: moved(self.endpoint),
            force_ssl: self.force_ssl,
            hsts_off: moved(self.hsts_off),
        }
    }
}

/// `config :app, AppWeb.Endpoint, ...` in `config/prod.exs`: remembers what HTTPS needs.
fn endpoint_config<'a>(ctx: &mut Ctx<'a>, node: Node<'a>) {
    let args = syntax::args(node, ctx.k);
    let is_endpoint = args
        .get(1)
        .is_some_and(|m| m.kind_id() == ctx.k.alias && ctx.text(*m).ends_with("Endpoint"));
    if !is_endpoint {
        return;
    }
    let text = ctx.text(node);
    let facts = &mut ctx.config_facts;
    if facts.endpoint.is_none() {
        facts.endpoint = Some((node.start_byte(), node.end_byte()));
    }
    if text.contains("force_ssl") {
        facts.force_ssl = true;
        if let Some(at) = text.find("hsts: false") {
            let start = node.start_byte() + at;
            facts.hsts_off = Some((start, start + "hsts: false".len()));
        }
    }
}

/// The file-level HTTPS check of `config/prod.exs`, from each form's facts and offset.
pub(crate) fn file_config<'f>(
    ctx: &mut Ctx,
    forms: impl Iterator<Item = (&'f ConfigFacts, usize)>,
) {
    if !ctx.path.is_prod_config || !ctx.on(CheckId::ForceSsl) {
        return;
    }
    let mut endpoint = None;
    let mut force_ssl = false;
    for (facts, base) in forms {
        if let Some((a, b)) = facts.hsts_off {
            let msg = "HSTS turned off in production: browsers are not told to stay on HTTPS";
            ctx.emit_range(CheckId::ForceSsl, a + base, b + base, msg, vec![]);
        }
        force_ssl |= facts.force_ssl;
        if endpoint.is_none() {
            endpoint = facts.endpoint.map(|(a, b)| (a + base, b + base));
        }
    }
    if let (Some((a, _)), false) = (endpoint, force_ssl) {
        let msg = "The production endpoint does not set force_ssl: plain HTTP is served";
        ctx.emit_range(CheckId::ForceSsl, a, a + "config".len(), msg, vec![]);
    }
}

/// `pipeline :browser do ... end` without CSRF protection or secure headers.
fn pipeline<'a>(ctx: &mut Ctx<'a>, node: Node<'a>) {
    let k = ctx.k;
    let Some(block) = syntax::do_block(node, k) else {
        return;
    };
    let name = syntax::args(node, k).first().map_or("", |n| ctx.text(*n));
    let plugs: Vec<&str> = syntax::named_children(block, k)
        .into_iter()
        .map(|c| ctx.text(c))
        .collect();
    let accepts_html = plugs
        .iter()
        .any(|p| p.starts_with("plug :accepts") && p.contains("\"html\""));
    if name != ":browser" && !accepts_html {
        return;
    }
    let head = (node.start_byte(), block.start_byte());
    let has = |plug: &str| plugs.iter().any(|p| p.contains(plug));
    if !has(":protect_from_forgery") && has(":fetch_session") {
        let msg = format!("Pipeline {name} serves HTML without plug :protect_from_forgery (CSRF)");
        ctx.emit_range(CheckId::CsrfProtection, head.0, head.1, msg, vec![]);
    }
    if !has(":put_secure_browser_headers") {
        let msg = format!("Pipeline {name} serves HTML without plug :put_secure_browser_headers");
        ctx.emit_range(CheckId::SecureHeaders, head.0, head.1, msg, vec![]);
    }
}

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
        // In a module body or attribute, Mix.env() runs at compile time, which is fine.
        (Some("Mix"), "env" | "target")
            if ctx.on(CheckId::MixEnv)
                && !ctx.functions.is_empty()
                && !ctx.path.is_script
                && !ctx.path.in_mix_tasks =>
        {
            let msg = format!(
                "Mix.{}() called at runtime: Mix is not loaded in releases, so this raises UndefinedFunctionError in production",
                name.fun
            );
            ctx.emit(CheckId::MixEnv, node, msg, vec![]);
        }
        (None, "config") if ctx.path.is_prod_config => endpoint_config(ctx, node),
        (None, "pipeline") if ctx.on(CheckId::CsrfProtection) || ctx.on(CheckId::SecureHeaders) => {
            pipeline(ctx, node)
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
    fn mix_env_in_module_bodies_and_attributes_runs_at_compile_time_and_is_not_reported() {
        let src = r#"defmodule App.Repo do
  if Mix.env() == :test do
    def sandbox?, do: true
  end
  @env Mix.env()
  def env, do: @env
end
"#;
        assert_eq!(render_only(src, "lib/app/repo.ex", CheckId::MixEnv), "");
        assert_eq!(
            render_only(
                "def f, do: Mix.env()\n",
                "priv/repo/seeds.exs",
                CheckId::MixEnv
            ),
            ""
        );
    }

    #[test]
    fn browser_pipelines_without_csrf_or_secure_headers_are_reported() {
        let src = r#"defmodule AppWeb.Router do
  use AppWeb, :router

  pipeline :browser do
    plug :accepts, ["html"]
    plug :fetch_session
    plug :fetch_live_flash
  end

  pipeline :good do
    plug :accepts, ["html"]
    plug :fetch_session
    plug :protect_from_forgery
    plug :put_secure_browser_headers
  end

  pipeline :api do
    plug :accepts, ["json"]
  end
end
"#;
        expect![[r#"
            4:3 warning config/csrf-protection: Pipeline :browser serves HTML without plug :protect_from_forgery (CSRF) `pipeline :browser `
            4:3 warning config/secure-headers: Pipeline :browser serves HTML without plug :put_secure_browser_headers `pipeline :browser `
        "#]]
        .assert_eq(&render_with(src, Some("lib/app_web/router.ex"), &Default::default()));
    }

    #[test]
    fn production_endpoint_without_force_ssl_is_reported() {
        let without = "import Config\nconfig :app, AppWeb.Endpoint,\n  url: [host: \"example.com\", port: 443],\n  cache_static_manifest: \"priv/static/cache_manifest.json\"\nconfig :logger, level: :info\n";
        expect![[r#"
            2:1 info config/force-ssl: The production endpoint does not set force_ssl: plain HTTP is served `config`
        "#]]
        .assert_eq(&render_only(without, "config/prod.exs", CheckId::ForceSsl));
        let elsewhere = format!("{without}config :app, AppWeb.Endpoint, force_ssl: [rewrite_on: [:x_forwarded_proto]]\n");
        assert_eq!(
            render_only(&elsewhere, "config/prod.exs", CheckId::ForceSsl),
            ""
        );
        assert_eq!(
            render_only(without, "config/dev.exs", CheckId::ForceSsl),
            ""
        );
        let hsts_off = "config :app, AppWeb.Endpoint, force_ssl: [hsts: false]\n";
        assert!(
            render_only(hsts_off, "config/prod.exs", CheckId::ForceSsl).contains("HSTS turned off")
        );
    }

    #[test]
    fn mix_env_outside_mix_exs() {
        let src =
            "def dev?, do: Mix.env() == :dev\ndef t, do: Mix.target\ndef e, do: config_env()\n";
        expect![[r#"
            1:15 warning config/mix-env: Mix.env() called at runtime: Mix is not loaded in releases, so this raises UndefinedFunctionError in production `Mix.env()`
            2:12 warning config/mix-env: Mix.target() called at runtime: Mix is not loaded in releases, so this raises UndefinedFunctionError in production `Mix.target`
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
