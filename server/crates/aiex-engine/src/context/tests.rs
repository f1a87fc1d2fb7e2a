//! Context assembly on the `fixtures/context_app` project: a cursor in, the context out as
//! text (update with `UPDATE_EXPECT=1 cargo test --lib context`), and the privacy rules.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use expect_test::{expect, Expect};

use super::*;
use crate::index::IndexOptions;
use crate::syntax::parse_str;

fn fixture_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../fixtures/context_app")
}

fn fixture_index() -> WorkspaceIndex {
    let index = WorkspaceIndex::new();
    index
        .rebuild(&IndexOptions::new(vec![fixture_root()]), None, &|_| {})
        .expect("index the fixture");
    index
}

/// Assembles the context at the first `needle` in `relative` (cursor `delta` bytes into it).
fn assemble_at(
    index: &WorkspaceIndex,
    relative: &str,
    text: &str,
    (needle, delta): (&str, usize),
    task: Task,
    budget: usize,
    open: &[OpenDocument],
) -> AssembledContext {
    let tree = parse_str(text).expect("parse");
    let chunks = crate::chunks::extract(&tree, text);
    let cursor = text.find(needle).expect("needle in text") + delta;
    let request = ContextRequest {
        task,
        path: Path::new(relative),
        text,
        tree: &tree,
        chunks: &chunks,
        cursor,
        budget_tokens: budget,
        recent_edits: &[],
        tokens: &TokenCounter::cl100k(),
    };
    assemble(&request, index, open)
}

fn fixture_text(relative: &str) -> String {
    std::fs::read_to_string(fixture_root().join(relative)).expect("fixture file")
}

/// The context as a reviewer reads it: each piece's reason, path and tokens, then its text.
fn render(context: &AssembledContext) -> String {
    let mut out = String::new();
    for piece in &context.pieces {
        out.push_str(&format!(
            "== {} — {} ({} tokens)\n{}",
            piece.reason,
            piece.path.display(),
            piece.tokens,
            piece.text
        ));
        if !piece.text.ends_with('\n') {
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "== prefix: {} lines, suffix: {} lines, redactions: {}\n",
        context.prefix.lines().count(),
        context.suffix.lines().count(),
        context.redactions
    ));
    out
}

fn check(context: &AssembledContext, expected: Expect) {
    expected.assert_eq(&render(context));
}

#[test]
fn completion_in_checkout_brings_callee_signatures_and_specs_from_other_files() {
    let index = fixture_index();
    let text = fixture_text("lib/shop/orders.ex");
    let context = assemble_at(
        &index,
        "lib/shop/orders.ex",
        &text,
        ("Payments.charge(card_token", 9),
        Task::Completion,
        // The default budget: the file's window takes at most 900 tokens, the rest is the
        // workspace's.
        1536,
        &[],
    );
    assert!(context.tokens <= 1536, "{} tokens", context.tokens);
    assert!(context.prefix.ends_with("{:ok, _charge} <- Payments."));
    assert!(context.suffix.starts_with("charge(card_token, total),"));
    check(
        &context,
        expect![[r#"
            == related: Shop.Accounts.register/1 — lib/shop/accounts.ex (138 tokens)
            # Shop.Accounts.register/1
            @doc """
            Registers a customer from `attrs` and sends the welcome email.

            Returns `{:ok, user}` or `{:error, reason}`.
            """
            @spec register(map()) :: {:ok, User.t()} | {:error, term()}
            def register(attrs) do
              with :ok <- require_fields(attrs, @required),
                   true <- valid_email?(attrs.email) || {:error, :invalid_email},
                   {:ok, user} <- attrs |> User.new() |> Repo.insert() do
                Notifications.welcome(user)
                Logger.info("registered #{user.id}")
                {:ok, user}
              end
            end
            == related: Shop.Payments.Gateway.post_charge/2 — lib/shop/payments/gateway.ex (76 tokens)
            # Shop.Payments.Gateway.post_charge/2
            @doc "Posts a charge request and returns the processor's charge id."
            @spec post_charge(String.t(), integer()) :: {:ok, String.t()} | {:error, term()}
            def post_charge(token, cents) do
              request(:post, "/charges", %{source: token, amount: cents})
            end
            == called: Shop.Orders.release_all/1 — lib/shop/orders.ex (43 tokens)
            # Shop.Orders.release_all/1
            defp release_all(cart) do
              Enum.each(cart.lines, fn {_id, {product, quantity}} -> Inventory.restock(product, quantity) end)
            end
            == called: Shop.Notifications.order_confirmed/1 — lib/shop/notifications.ex (79 tokens)
            # Shop.Notifications.order_confirmed/1
            @doc "Confirms an order with its total."
            @spec order_confirmed(Shop.Orders.Order.t()) :: :ok
            def order_confirmed(order) do
              body = "Order #{order.id}: #{format_price(order.total_cents)}"
              order |> recipient() |> Mailer.deliver("Order confirmed", body)
            end
            == called: Shop.Cart.total/2 — lib/shop/cart.ex (55 tokens)
            # Shop.Cart.total/2
            @doc "The cart's total in cents, tax included."
            @spec total(t(), String.t()) :: integer()
            def total(cart, country) do
              cart.lines |> Map.values() |> Pricing.total_with_tax(country)
            end
            == called: Shop.Repo.insert/1 — lib/shop/repo.ex (81 tokens)
            # Shop.Repo.insert/1
            @doc "Inserts a record and returns it with an id."
            @spec insert(map()) :: {:ok, record()} | {:error, :invalid}
            def insert(%{__struct__: _} = record), do: {:ok, Map.put_new(record, :id, next_id())}
            def insert(_), do: {:error, :invalid}
            == called: Shop.Orders.Order.from_cart/3 — lib/shop/orders/order.ex (82 tokens)
            # Shop.Orders.Order.from_cart/3
            @doc "Builds an order from a cart's lines and total."
            @spec from_cart(Shop.Cart.t(), integer(), String.t()) :: t()
            def from_cart(cart, total, country) do
              %__MODULE__{user_id: cart.user_id, lines: cart.lines, total_cents: total, country: country}
            end
            == called: Shop.Orders.Order.transition/2 — lib/shop/orders/order.ex (136 tokens)
            # Shop.Orders.Order.transition/2
            @doc "Moves an order to a new status, if the transition is allowed."
            @spec transition(t(), status()) :: {:ok, t()} | {:error, :invalid_transition}
            def transition(%__MODULE__{status: :pending} = order, status) when status in [:paid, :cancelled],
              do: {:ok, %{order | status: status}}

            def transition(%__MODULE__{status: :paid} = order, :shipped), do: {:ok, %{order | status: :shipped}}
            def transition(_order, _status), do: {:error, :invalid_transition}
            == called: Shop.Orders.reserve_all/1 — lib/shop/orders.ex (77 tokens)
            # Shop.Orders.reserve_all/1
            defp reserve_all(cart) do
              Enum.reduce_while(cart.lines, :ok, fn {_id, {product, quantity}}, :ok ->
                case Inventory.reserve(product, quantity) do
                  {:ok, _} -> {:cont, :ok}
                  error -> {:halt, error}
                end
              end)
            end
            == module being called: Shop.Payments — lib/shop/payments.ex (89 tokens)
            # Shop.Payments (public functions)
            # Charges `cents` to the card behind `token`.
            @spec charge(String.t(), integer()) :: {:ok, String.t()} | {:error, term()}
            def charge(token, cents) when cents > 0
            # Refunds an order's amount.
            @spec refund(pos_integer(), integer()) :: {:ok, String.t()} | {:error, term()}
            def refund(order_id, cents)
            == prefix: 21 lines, suffix: 23 lines, redactions: 0
        "#]],
    );
}

#[test]
fn a_larger_budget_upgrades_callees_to_their_bodies() {
    let index = fixture_index();
    let text = fixture_text("lib/shop/orders.ex");
    let small = assemble_at(
        &index,
        "lib/shop/orders.ex",
        &text,
        ("{:ok, _charge} <- Payments", 0),
        Task::Completion,
        512,
        &[],
    );
    let large = assemble_at(
        &index,
        "lib/shop/orders.ex",
        &text,
        ("{:ok, _charge} <- Payments", 0),
        Task::Completion,
        4_096,
        &[],
    );
    assert!(large.tokens <= 4_096);
    let charge = |c: &AssembledContext| {
        c.pieces
            .iter()
            .find(|p| p.reason == "called: Shop.Payments.charge/2")
            .map(|p| p.text.clone())
            .expect("charge/2 in the context")
    };
    assert!(!charge(&small).contains("AuditTrail.log"));
    assert!(charge(&large).contains("AuditTrail.log(:charge"));
    assert!(large.pieces.len() > small.pieces.len());
}

#[test]
fn explain_includes_the_enclosing_function_and_resolves_imports_and_pipes() {
    let index = fixture_index();
    let text = fixture_text("lib/shop/accounts.ex");
    let context = assemble_at(
        &index,
        "lib/shop/accounts.ex",
        &text,
        ("Notifications.welcome(user)", 0),
        Task::Explain,
        1_024,
        &[],
    );
    let reasons: Vec<&str> = context.pieces.iter().map(|p| p.reason.as_str()).collect();
    for wanted in [
        "enclosing function register/1",
        "called: Shop.Validation.require_fields/2",
        "called: Shop.Validation.valid_email?/1",
        "called: Shop.Accounts.User.new/1",
        "called: Shop.Repo.insert/1",
        "called: Shop.Notifications.welcome/1",
    ] {
        assert!(
            reasons.contains(&wanted),
            "{wanted} missing from {reasons:#?}"
        );
    }
    // Shown last, right before the code: the enclosing function.
    assert_eq!(reasons.last(), Some(&"enclosing function register/1"));
}

#[test]
fn open_documents_override_the_index() {
    let index = fixture_index();
    let edited = fixture_text("lib/shop/payments.ex").replace(
        "@spec charge(String.t(), integer())",
        "@spec charge(String.t(), pos_integer())",
    );
    let tree = parse_str(&edited).expect("parse");
    let open = [OpenDocument {
        path: PathBuf::from("lib/shop/payments.ex"),
        chunks: Arc::new(crate::chunks::extract(&tree, &edited)),
        text: Arc::from(edited.as_str()),
    }];
    let text = fixture_text("lib/shop/orders.ex");
    let context = assemble_at(
        &index,
        "lib/shop/orders.ex",
        &text,
        ("Payments.charge(card_token", 9),
        Task::Completion,
        1_024,
        &open,
    );
    let all: String = context.pieces.iter().map(|p| p.text.as_str()).collect();
    assert!(
        all.contains("@spec charge(String.t(), pos_integer())"),
        "{all}"
    );
    assert!(!all.contains("@spec charge(String.t(), integer())"));
}

#[test]
fn a_secret_file_gives_no_context_at_all() {
    let index = fixture_index();
    let text = fixture_text("config/prod.secret.exs");
    let context = assemble_at(
        &index,
        "config/prod.secret.exs",
        &text,
        ("secret_key_base", 0),
        Task::Completion,
        2_048,
        &[],
    );
    assert_eq!(context, AssembledContext::default());
    for path in ["../outside.ex", "/etc/passwd.ex", ".env"] {
        let context = assemble_at(
            &index,
            path,
            "defmodule A do\nend\n",
            ("A", 0),
            Task::Completion,
            2_048,
            &[],
        );
        assert_eq!(context, AssembledContext::default(), "{path}");
    }
}

#[test]
fn modules_defined_in_secret_files_are_never_resolved() {
    let index = fixture_index();
    let secret = "defmodule Shop.Credentials do\n  @doc \"The key.\"\n  def api_key, do: \"sk_live_51HqLyjWDarjtT1zdp7dcXkkaMmP0uvDsQc2iBgxyOrk\"\nend\n";
    let root = fixture_root();
    index.update_file(
        &root.join("config/dev.secret.exs"),
        Path::new("config/dev.secret.exs"),
        secret,
    );
    let text = "defmodule Shop.Uses do\n  def go do\n    Shop.Credentials.api_key() |> IO.puts()\n  end\nend\n";
    let context = assemble_at(
        &index,
        "lib/shop/uses.ex",
        text,
        ("IO.puts", 0),
        Task::Explain,
        4_096,
        &[],
    );
    let everything = format!(
        "{}{}{}",
        context.prefix,
        context.suffix,
        context.snippets_as_comments()
    );
    assert!(!everything.contains("sk_live"), "{everything}");
    assert!(!everything.contains("The key."), "{everything}");
    assert!(context.pieces.iter().all(|p| !p.path.starts_with("config")));
}

#[test]
fn key_literals_in_code_are_redacted_from_prefix_and_pieces() {
    let index = fixture_index();
    let text = fixture_text("lib/shop/payments/gateway.ex");
    let context = assemble_at(
        &index,
        "lib/shop/payments/gateway.ex",
        &text,
        ("request(:post, \"/refunds\"", 0),
        Task::Completion,
        2_048,
        &[],
    );
    let everything = format!(
        "{}{}{}",
        context.prefix,
        context.suffix,
        context.snippets_as_comments()
    );
    assert!(!everything.contains("AKIAIOSFODNN7EXAMPLE"), "{everything}");
    assert!(everything.contains("<redacted:"), "{everything}");
    assert!(context.redactions >= 1);
}

#[test]
fn snippets_as_comments_label_each_piece_with_its_path() {
    let context = AssembledContext {
        pieces: vec![ContextPiece {
            path: PathBuf::from("lib/shop/repo.ex"),
            reason: "called: Shop.Repo.insert/1".to_owned(),
            text: "@spec insert(map()) :: {:ok, record()}\n\ndef insert(record)\n".to_owned(),
            tokens: 12,
        }],
        ..AssembledContext::default()
    };
    expect![[r#"
        # lib/shop/repo.ex (called: Shop.Repo.insert/1)
        # @spec insert(map()) :: {:ok, record()}
        #
        # def insert(record)

    "#]]
    .assert_eq(&context.snippets_as_comments());
}

/// A file whose window, at a small budget, would start inside a heredoc or another function.
const CUTS: &str = r#"defmodule Cuts do
  def first(x) do
    y = x + 1
    z = y * 2
    z - 3
  end

  @doc """
  A long doc.

  With paragraphs that a line-based cut could start in.
  """
  def second(a) do
    a
    |> first()
    |> first()
  end

  def third(b) do
    b
  end
end
"#;

#[test]
fn the_window_starts_and_ends_at_syntactic_boundaries() {
    let index = WorkspaceIndex::new();
    let windows: Vec<String> = [30, 60, 90, 120, 200]
        .into_iter()
        .map(|budget| {
            let context = assemble_at(
                &index,
                "lib/cuts.ex",
                CUTS,
                ("|> first()\n    |> first()", 3),
                Task::Completion,
                budget,
                &[],
            );
            format!(
                "budget {budget}:\n{}<CURSOR>{}",
                context.prefix, context.suffix
            )
        })
        .collect();
    expect![[r#"
        budget 30:
          def second(a) do
            a
            |> <CURSOR>first()
            |> first()

        ----
        budget 60:

          @doc """
          A long doc.

          With paragraphs that a line-based cut could start in.
          """
          def second(a) do
            a
            |> <CURSOR>first()
            |> first()
          end


        ----
        budget 90:

          @doc """
          A long doc.

          With paragraphs that a line-based cut could start in.
          """
          def second(a) do
            a
            |> <CURSOR>first()
            |> first()
          end


        ----
        budget 120:
        defmodule Cuts do
          def first(x) do
            y = x + 1
            z = y * 2
            z - 3
          end

          @doc """
          A long doc.

          With paragraphs that a line-based cut could start in.
          """
          def second(a) do
            a
            |> <CURSOR>first()
            |> first()
          end

          def third(b) do
            b
          end
        end

        ----
        budget 200:
        defmodule Cuts do
          def first(x) do
            y = x + 1
            z = y * 2
            z - 3
          end

          @doc """
          A long doc.

          With paragraphs that a line-based cut could start in.
          """
          def second(a) do
            a
            |> <CURSOR>first()
            |> first()
          end

          def third(b) do
            b
          end
        end
    "#]]
    .assert_eq(&windows.join("\n----\n"));
}

#[test]
fn recently_edited_chunks_are_offered_after_callees() {
    let index = fixture_index();
    let text = fixture_text("lib/shop/orders.ex");
    let tax = fixture_text("lib/shop/tax.ex");
    let tree = parse_str(&text).expect("parse");
    let chunks = crate::chunks::extract(&tree, &text);
    let edits = [RecentEdit {
        path: PathBuf::from("lib/shop/tax.ex"),
        offset: tax.find("def rate(country)").expect("rate/1"),
    }];
    let request = ContextRequest {
        task: Task::Completion,
        path: Path::new("lib/shop/orders.ex"),
        text: &text,
        tree: &tree,
        chunks: &chunks,
        cursor: text.find("Payments.refund").expect("refund"),
        budget_tokens: 2_048,
        recent_edits: &edits,
        tokens: &TokenCounter::cl100k(),
    };
    let context = assemble(&request, &index, &[]);
    let piece = context
        .pieces
        .iter()
        .find(|p| p.reason == "recently edited: Shop.Tax.rate/1")
        .expect("the edited function is in the context");
    assert_eq!(piece.path, Path::new("lib/shop/tax.ex"));
    assert!(piece.text.contains("@spec rate(String.t()) :: float()"));
    let secret_edit = [RecentEdit {
        path: PathBuf::from("config/prod.secret.exs"),
        offset: 10,
    }];
    let request = ContextRequest {
        recent_edits: &secret_edit,
        ..request
    };
    let context = assemble(&request, &index, &[]);
    assert!(context
        .pieces
        .iter()
        .all(|p| !p.reason.starts_with("recently edited")));
}

#[test]
fn retrieval_finds_related_chunks_the_calls_do_not_reach() {
    let index = fixture_index();
    crate::context::warm_retrieval(&index);
    // Nothing here calls the inventory, but the words are about stock.
    let text = "defmodule Shop.Warehouse do\n  def audit(product) do\n    if product.stock < 3, do: :restock, else: :low_stock_ok\n  end\nend\n";
    let context = assemble_at(
        &index,
        "lib/shop/warehouse.ex",
        text,
        ("if product", 0),
        Task::Explain,
        2_048,
        &[],
    );
    let related: Vec<&str> = context
        .pieces
        .iter()
        .filter(|p| p.reason.starts_with("related: "))
        .map(|p| p.reason.as_str())
        .collect();
    assert!(
        related.contains(&"related: Shop.Inventory.restock/2"),
        "{related:#?}"
    );
    assert!(
        related.contains(&"related: Shop.Inventory.low_stock/1"),
        "{related:#?}"
    );
}

#[test]
fn tasks_other_than_completion_always_show_the_enclosing_function_whole() {
    let index = fixture_index();
    let text = fixture_text("lib/shop/tax.ex");
    for task in [Task::Explain, Task::Refactor, Task::Tests, Task::Docs] {
        let context = assemble_at(
            &index,
            "lib/shop/tax.ex",
            &text,
            ("Map.get(@rates", 0),
            task,
            1_024,
            &[],
        );
        let enclosing = context.pieces.last().expect("pieces").text.clone();
        assert!(
            enclosing.contains("def rate(country), do: Map.get(@rates, country, 0.0)"),
            "{}: {enclosing}",
            task.name()
        );
        assert!(enclosing.contains("@spec rate(String.t()) :: float()"));
    }
    // Completion leaves it to the prefix and suffix when they show it all.
    let context = assemble_at(
        &index,
        "lib/shop/tax.ex",
        &text,
        ("Map.get(@rates", 0),
        Task::Completion,
        1_024,
        &[],
    );
    assert!(context
        .pieces
        .iter()
        .all(|p| !p.reason.starts_with("enclosing function")));
}

#[test]
fn every_position_stays_within_budget_counts_truly_and_leaks_no_key() {
    let index = fixture_index();
    for relative in [
        "lib/shop/orders.ex",
        "lib/shop/payments/gateway.ex",
        "lib/shop/accounts.ex",
    ] {
        let text = fixture_text(relative);
        let tree = parse_str(&text).expect("parse");
        let chunks = crate::chunks::extract(&tree, &text);
        for budget in [64, 512, 2_048] {
            for cursor in (0..text.len()).step_by(53) {
                let request = ContextRequest {
                    task: if cursor % 2 == 0 {
                        Task::Completion
                    } else {
                        Task::Explain
                    },
                    path: Path::new(relative),
                    text: &text,
                    tree: &tree,
                    chunks: &chunks,
                    cursor,
                    budget_tokens: budget,
                    recent_edits: &[],
                    tokens: &TokenCounter::cl100k(),
                };
                let context = assemble(&request, &index, &[]);
                let window = TokenCounter::cl100k().count(&context.prefix)
                    + TokenCounter::cl100k().count(&context.suffix);
                let pieces: usize = context.pieces.iter().map(|p| p.tokens).sum();
                assert_eq!(context.tokens, window + pieces);
                assert!(
                    context.tokens <= budget.max(window),
                    "{relative}@{cursor}: {} tokens for a budget of {budget}",
                    context.tokens
                );
                for piece in &context.pieces {
                    assert_eq!(
                        piece.tokens,
                        TokenCounter::cl100k().count(&piece.text),
                        "{}",
                        piece.reason
                    );
                }
                let all = format!(
                    "{}{}{}",
                    context.prefix,
                    context.suffix,
                    context.snippets_as_comments()
                );
                assert!(!all.contains("AKIAIOSFODNN7EXAMPLE"), "{relative}@{cursor}");
                assert!(context.pieces.iter().all(|p| !p.path.starts_with("config")));
            }
        }
    }
}

#[test]
fn a_local_call_being_typed_gets_the_matching_imported_and_own_functions() {
    let index = fixture_index();
    let text = fixture_text("lib/shop/accounts.ex").replace(
        "with :ok <- require_fields(attrs, @required),",
        "with :ok <- requ",
    );
    let context = assemble_at(
        &index,
        "lib/shop/accounts.ex",
        &text,
        ("with :ok <- requ", 16),
        Task::Completion,
        512,
        &[],
    );
    let imported = context
        .pieces
        .iter()
        .find(|p| p.reason == "imported: Shop.Validation")
        .expect("the imported module's matching functions");
    expect![[r#"
        # Shop.Validation (imported)
        @spec require_fields(map(), [atom()]) :: :ok | {:error, {:missing, [atom()]}}
        def require_fields(attrs, required)
    "#]]
    .assert_eq(&imported.text);
    assert_eq!(imported.path, Path::new("lib/shop/validation.ex"));
}

#[test]
fn any_byte_offset_in_unicode_text_is_safe() {
    let index = fixture_index();
    let text = "defmodule Shop.Étiquette do\n  alias Shop.Repo\n  @doc \"Crée « une » étiquette → 🏷.\"\n  def crée(nom) do\n    «x» = Repo.get(Nom, 1)\n    \"→ #{nom} ←\" |> Repo.ins\n  end\nend\n";
    for offset in 0..=text.len() + 2 {
        for task in [Task::Completion, Task::Docs] {
            let tree = parse_str(text).expect("parse");
            let chunks = crate::chunks::extract(&tree, text);
            let request = ContextRequest {
                task,
                path: Path::new("lib/shop/étiquette.ex"),
                text,
                tree: &tree,
                chunks: &chunks,
                cursor: offset,
                budget_tokens: 256,
                recent_edits: &[],
                tokens: &TokenCounter::cl100k(),
            };
            let context = assemble(&request, &index, &[]);
            assert!(text.contains(context.prefix.as_str()), "{offset}");
            assert!(text.contains(context.suffix.as_str()), "{offset}");
        }
    }
}

#[test]
fn nested_modules_see_the_aliases_and_imports_of_the_modules_around_them() {
    let index = fixture_index();
    let text = "defmodule Shop.Admin do\n  alias Shop.Payments\n  import Shop.Formatting\n\n  defmodule Refunds do\n    def run(order) do\n      Payments.refund(order.id, order.total_cents)\n      format_price(order.total_cents)\n    end\n  end\nend\n";
    let context = assemble_at(
        &index,
        "lib/shop/admin.ex",
        text,
        ("format_price(order", 0),
        Task::Explain,
        2_048,
        &[],
    );
    let reasons: Vec<&str> = context.pieces.iter().map(|p| p.reason.as_str()).collect();
    assert!(
        reasons.contains(&"called: Shop.Payments.refund/2"),
        "{reasons:#?}"
    );
    assert!(
        reasons.contains(&"called: Shop.Formatting.format_price/2"),
        "{reasons:#?}"
    );
}

#[test]
fn a_blank_line_is_shown_what_the_aliased_modules_offer_without_repeating_the_callees() {
    let index = fixture_index();
    // The line that calls `Notifications` is not written yet: nothing in the function calls it.
    let text = fixture_text("lib/shop/orders.ex").replace(
        "      Notifications.order_confirmed(order)\n      {:ok, order}",
        "      \n      {:ok, order}",
    );
    let context = assemble_at(
        &index,
        "lib/shop/orders.ex",
        &text,
        ("      \n      {:ok, order}", 6),
        Task::Completion,
        1024,
        &[],
    );
    let piece = |reason: &str| context.pieces.iter().find(|p| p.reason == reason);
    let notifications = piece("aliased: Shop.Notifications").expect("Notifications' functions");
    assert_eq!(notifications.path, Path::new("lib/shop/notifications.ex"));
    assert!(
        notifications.text.contains("def order_confirmed(order)"),
        "{}",
        notifications.text
    );
    // `Payments.charge/2` is a callee already: its list offers the rest only.
    assert!(piece("called: Shop.Payments.charge/2").is_some());
    let payments = piece("aliased: Shop.Payments").expect("Payments' other functions");
    assert!(payments.text.contains("def refund("), "{}", payments.text);
    assert!(!payments.text.contains("def charge("), "{}", payments.text);
    // The callees still come first: their pieces are shown nearest the code.
    let position = |reason: &str| context.pieces.iter().position(|p| p.reason == reason);
    assert!(position("aliased: Shop.Payments") < position("called: Shop.Payments.charge/2"));
    assert!(context.tokens <= 1024);
}
