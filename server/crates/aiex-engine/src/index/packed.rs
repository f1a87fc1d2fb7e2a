//! A walked file's chunks as the index holds them: one byte buffer per file, unpacked into
//! [`FileChunks`] when a prompt, a hover or a symbol search needs them.
//!
//! With 300,000 lines indexed the chunks as structs were 16.5 MB of heap (a `FunctionChunk`
//! alone is 208 bytes, with a `String` or `Vec` header for every name, clause, spec and doc
//! and the allocator's overhead on each). Packed, they are the strings' bytes and a few bytes
//! of variable-length numbers per field. Unpacking a file's chunks takes microseconds (no
//! parse, no read from disk), and gives back exactly what was packed: the layout below is the
//! one place that knows it, and `pack` and `unpack` follow it field by field.

use crate::chunks::{
    Attribute, ByteRange, Call, Clause, Directive, DirectiveKind, Doc, FileChunks, FunctionChunk,
    FunctionKind, ModuleChunk, ModuleKind, TypeChunk, TypeKind,
};

/// The enums as packed: their position in these lists.
const MODULE_KINDS: [ModuleKind; 3] = [ModuleKind::Module, ModuleKind::Protocol, ModuleKind::Impl];
const DIRECTIVE_KINDS: [DirectiveKind; 4] = [
    DirectiveKind::Alias,
    DirectiveKind::Import,
    DirectiveKind::Use,
    DirectiveKind::Require,
];
const FUNCTION_KINDS: [FunctionKind; 9] = [
    FunctionKind::Def,
    FunctionKind::Defp,
    FunctionKind::Defmacro,
    FunctionKind::Defmacrop,
    FunctionKind::Defguard,
    FunctionKind::Defguardp,
    FunctionKind::Defdelegate,
    FunctionKind::Defn,
    FunctionKind::Defnp,
];
const TYPE_KINDS: [TypeKind; 5] = [
    TypeKind::Type,
    TypeKind::Typep,
    TypeKind::Opaque,
    TypeKind::Callback,
    TypeKind::Macrocallback,
];

/// A file's chunks packed into bytes, with the counts the index reports without unpacking.
#[derive(Clone, PartialEq, Eq)]
pub struct PackedChunks {
    bytes: std::sync::Arc<[u8]>,
    /// Modules, nested ones included.
    modules: u32,
    /// Functions, in modules or not.
    functions: u32,
}

impl std::fmt::Debug for PackedChunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackedChunks")
            .field("bytes", &self.bytes.len())
            .field("modules", &self.modules)
            .field("functions", &self.functions)
            .finish()
    }
}

impl Default for PackedChunks {
    fn default() -> Self {
        Self::pack(&FileChunks::default())
    }
}

impl PackedChunks {
    /// Packs `chunks`.
    pub fn pack(chunks: &FileChunks) -> Self {
        let mut out = Writer(Vec::new());
        out.list(&chunks.modules, Writer::module);
        out.list(&chunks.functions, Writer::function);
        let modules = chunks.all_modules();
        let functions =
            chunks.functions.len() + modules.iter().map(|m| m.functions.len()).sum::<usize>();
        Self {
            bytes: std::sync::Arc::from(out.0),
            modules: u32::try_from(modules.len()).unwrap_or(u32::MAX),
            functions: u32::try_from(functions).unwrap_or(u32::MAX),
        }
    }

    /// The chunks as packed. Bytes this module did not write (it cannot happen: they never
    /// leave the index) give empty chunks and an error in the log rather than a panic.
    pub fn unpack(&self) -> FileChunks {
        let mut reader = Reader {
            bytes: &self.bytes,
            at: 0,
        };
        let unpacked = (|| {
            Some(FileChunks {
                modules: reader.list(Reader::module)?,
                functions: reader.list(Reader::function)?,
            })
        })();
        match unpacked {
            Some(chunks) if reader.at == self.bytes.len() => chunks,
            _ => {
                tracing::error!("the index's packed chunks do not unpack; treated as empty");
                FileChunks::default()
            }
        }
    }

    /// Modules, nested ones included.
    pub fn module_count(&self) -> usize {
        self.modules as usize
    }

    /// Functions and macros, in modules or not.
    pub fn function_count(&self) -> usize {
        self.functions as usize
    }

    /// Bytes held.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }
}

struct Writer(Vec<u8>);

impl Writer {
    /// LEB128: 7 bits a byte, low bits first.
    fn number(&mut self, mut value: usize) {
        loop {
            let low = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                self.0.push(low);
                return;
            }
            self.0.push(low | 0x80);
        }
    }

    fn text(&mut self, text: &str) {
        self.number(text.len());
        self.0.extend_from_slice(text.as_bytes());
    }

    fn optional_text(&mut self, text: Option<&str>) {
        match text {
            None => self.number(0),
            Some(text) => {
                self.number(1);
                self.text(text);
            }
        }
    }

    fn doc(&mut self, doc: Option<&Doc>) {
        match doc {
            None => self.number(0),
            Some(Doc::Hidden) => self.number(1),
            Some(Doc::Text(text)) => {
                self.number(2);
                self.text(text);
            }
        }
    }

    /// The start, then the length (smaller than the end).
    fn range(&mut self, range: ByteRange) {
        self.number(range.start);
        // A range ending before it starts (none is built so) keeps its end: 0, then the end.
        match range.end.checked_sub(range.start) {
            Some(length) => self.number(length + 1),
            None => {
                self.number(0);
                self.number(range.end);
            }
        }
    }

    fn kind<T: PartialEq>(&mut self, kinds: &[T], kind: &T) {
        let position = kinds.iter().position(|k| k == kind).unwrap_or(kinds.len());
        self.number(position);
    }

    fn list<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Self, &T)) {
        self.number(items.len());
        for item in items {
            each(self, item);
        }
    }

    fn module(&mut self, module: &ModuleChunk) {
        self.text(&module.name);
        self.kind(&MODULE_KINDS, &module.kind);
        self.optional_text(module.implemented_for.as_deref());
        self.range(module.range);
        self.range(module.name_range);
        self.doc(module.moduledoc.as_ref());
        self.list(&module.directives, |out, directive| {
            out.kind(&DIRECTIVE_KINDS, &directive.kind);
            out.text(&directive.module);
            out.optional_text(directive.alias_as.as_deref());
            out.text(&directive.text);
            out.range(directive.range);
        });
        self.list(&module.attributes, Self::attribute);
        self.list(&module.functions, Self::function);
        self.list(&module.types, |out, declared| {
            out.text(&declared.name);
            out.number(declared.arity);
            out.kind(&TYPE_KINDS, &declared.kind);
            out.text(&declared.definition);
            out.doc(declared.doc.as_ref());
            out.range(declared.range);
            out.range(declared.name_range);
        });
        self.list(&module.modules, Self::module);
    }

    fn attribute(&mut self, attribute: &Attribute) {
        self.text(&attribute.name);
        self.text(&attribute.text);
        self.range(attribute.range);
    }

    fn function(&mut self, function: &FunctionChunk) {
        self.text(&function.name);
        self.number(function.arity);
        self.number(function.defaults);
        self.kind(&FUNCTION_KINDS, &function.kind);
        self.list(&function.clauses, |out, clause| {
            out.text(&clause.signature);
            out.range(clause.range);
            out.range(clause.name_range);
        });
        self.doc(function.doc.as_ref());
        self.list(&function.specs, |out, spec| out.text(spec));
        self.optional_text(function.impl_.as_deref());
        self.list(&function.attributes, Self::attribute);
        self.range(function.range);
        self.list(&function.calls, |out, call| {
            out.optional_text(call.module.as_deref());
            out.text(&call.name);
            out.number(call.arity);
            out.range(call.range);
        });
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn number(&mut self) -> Option<usize> {
        let mut value: usize = 0;
        let mut shift = 0u32;
        loop {
            let byte = *self.bytes.get(self.at)?;
            self.at += 1;
            value |= usize::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(value);
            }
            shift += 7;
            if shift >= usize::BITS {
                return None;
            }
        }
    }

    fn text(&mut self) -> Option<String> {
        let length = self.number()?;
        let end = self.at.checked_add(length)?;
        let text = std::str::from_utf8(self.bytes.get(self.at..end)?).ok()?;
        self.at = end;
        Some(text.to_owned())
    }

    fn optional_text(&mut self) -> Option<Option<String>> {
        match self.number()? {
            0 => Some(None),
            1 => self.text().map(Some),
            _ => None,
        }
    }

    fn doc(&mut self) -> Option<Option<Doc>> {
        match self.number()? {
            0 => Some(None),
            1 => Some(Some(Doc::Hidden)),
            2 => self.text().map(|text| Some(Doc::Text(text))),
            _ => None,
        }
    }

    fn range(&mut self) -> Option<ByteRange> {
        let start = self.number()?;
        let end = match self.number()? {
            0 => self.number()?,
            length => start.checked_add(length - 1)?,
        };
        Some(ByteRange { start, end })
    }

    fn kind<T: Copy>(&mut self, kinds: &[T]) -> Option<T> {
        kinds.get(self.number()?).copied()
    }

    fn list<T>(&mut self, mut each: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let length = self.number()?;
        // Every item takes at least a byte: a bad length cannot reserve more than is there.
        let mut items = Vec::with_capacity(length.min(self.bytes.len() - self.at));
        for _ in 0..length {
            items.push(each(self)?);
        }
        Some(items)
    }

    fn module(&mut self) -> Option<ModuleChunk> {
        Some(ModuleChunk {
            name: self.text()?,
            kind: self.kind(&MODULE_KINDS)?,
            implemented_for: self.optional_text()?,
            range: self.range()?,
            name_range: self.range()?,
            moduledoc: self.doc()?,
            directives: self.list(|input| {
                Some(Directive {
                    kind: input.kind(&DIRECTIVE_KINDS)?,
                    module: input.text()?,
                    alias_as: input.optional_text()?,
                    text: input.text()?,
                    range: input.range()?,
                })
            })?,
            attributes: self.list(Self::attribute)?,
            functions: self.list(Self::function)?,
            types: self.list(|input| {
                Some(TypeChunk {
                    name: input.text()?,
                    arity: input.number()?,
                    kind: input.kind(&TYPE_KINDS)?,
                    definition: input.text()?,
                    doc: input.doc()?,
                    range: input.range()?,
                    name_range: input.range()?,
                })
            })?,
            modules: self.list(Self::module)?,
        })
    }

    fn attribute(&mut self) -> Option<Attribute> {
        Some(Attribute {
            name: self.text()?,
            text: self.text()?,
            range: self.range()?,
        })
    }

    fn function(&mut self) -> Option<FunctionChunk> {
        Some(FunctionChunk {
            name: self.text()?,
            arity: self.number()?,
            defaults: self.number()?,
            kind: self.kind(&FUNCTION_KINDS)?,
            clauses: self.list(|input| {
                Some(Clause {
                    signature: input.text()?,
                    range: input.range()?,
                    name_range: input.range()?,
                })
            })?,
            doc: self.doc()?,
            specs: self.list(Self::text)?,
            impl_: self.optional_text()?,
            attributes: self.list(Self::attribute)?,
            range: self.range()?,
            calls: self.list(|input| {
                Some(Call {
                    module: input.optional_text()?,
                    name: input.text()?,
                    arity: input.number()?,
                    range: input.range()?,
                })
            })?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunks::extract;
    use crate::syntax::parse_str;

    /// Every kind of definition, directive, doc and attribute the chunks record.
    const EVERY_SHAPE: &str = r#"
defmodule App.Everything do
  @moduledoc """
  Everything the chunks record.

  Second paragraph.
  """
  alias App.{Repo, Accounts.User}
  alias App.Mailer, as: Post
  import Ecto.Query, only: [from: 2]
  use GenServer
  require Logger
  @timeout 5_000

  @typedoc "An id."
  @type id :: integer
  @typep secret :: binary
  @opaque token :: {id, secret}
  @callback run(id) :: :ok
  @macrocallback build(term) :: Macro.t()

  @doc "Fetches."
  @spec fetch(id, keyword) :: {:ok, term} | :error
  @decorate cached()
  def fetch(id, opts \\ []) when is_integer(id), do: Repo.get(User, id, opts)
  def fetch(_, _), do: :error

  @doc false
  defp hidden(x), do: Post.deliver(x) |> Logger.info()

  @impl true
  def init(state), do: {:ok, state}

  defmacro m(x), do: x
  defmacrop mp(x), do: x
  defguard g(x) when is_integer(x)
  defguardp gp(x) when is_atom(x)
  defdelegate d(x), to: App.Other
  defn n(x), do: x
  defnp np(x), do: x

  defmodule Nested do
    def inner, do: &App.Everything.fetch/2
  end
end

defprotocol App.Size do
  def size(data)
end

defimpl App.Size, for: Map do
  def size(map), do: map_size(map)
end

def top_level(x), do: x
"#;

    fn roundtrip(source: &str) -> (FileChunks, FileChunks) {
        let chunks = extract(&parse_str(source).expect("parse"), source);
        let unpacked = PackedChunks::pack(&chunks).unpack();
        (chunks, unpacked)
    }

    #[test]
    fn packed_chunks_unpack_to_exactly_the_chunks_packed() {
        let (chunks, unpacked) = roundtrip(EVERY_SHAPE);
        assert_eq!(unpacked, chunks);
        // The source holds every kind the layout lists, so each list's every position is tried.
        let modules = chunks.all_modules();
        let functions: Vec<&FunctionChunk> = modules
            .iter()
            .flat_map(|m| &m.functions)
            .chain(&chunks.functions)
            .collect();
        for kind in FUNCTION_KINDS {
            assert!(functions.iter().any(|f| f.kind == kind), "{kind:?}");
        }
        for kind in MODULE_KINDS {
            assert!(modules.iter().any(|m| m.kind == kind), "{kind:?}");
        }
        for kind in DIRECTIVE_KINDS {
            assert!(
                modules
                    .iter()
                    .flat_map(|m| &m.directives)
                    .any(|d| d.kind == kind),
                "{kind:?}"
            );
        }
        for kind in TYPE_KINDS {
            assert!(
                modules
                    .iter()
                    .flat_map(|m| &m.types)
                    .any(|t| t.kind == kind),
                "{kind:?}"
            );
        }
        assert!(
            functions.iter().any(|f| !f.calls.is_empty()),
            "call sites packed too"
        );
        assert!(functions.iter().any(|f| f.doc == Some(Doc::Hidden)));
        assert!(functions.iter().any(|f| f.impl_.is_some()));
        assert!(functions.iter().any(|f| !f.specs.is_empty()));
    }

    #[test]
    fn packed_chunks_of_the_sample_app_unpack_unchanged() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../fixtures/sample_app/lib/sample_app"
        );
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).expect("sample app") {
            let source = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
            let (chunks, unpacked) = roundtrip(&source);
            assert_eq!(unpacked, chunks);
            seen += 1;
        }
        assert!(seen >= 5);
    }

    #[test]
    fn packed_chunks_count_their_modules_nested_ones_included_and_their_functions() {
        let chunks = extract(&parse_str(EVERY_SHAPE).expect("parse"), EVERY_SHAPE);
        let packed = PackedChunks::pack(&chunks);
        assert_eq!(packed.module_count(), 4, "nested modules counted");
        assert_eq!(
            packed.function_count(),
            chunks
                .all_modules()
                .iter()
                .map(|m| m.functions.len())
                .sum::<usize>()
                + 1
        );
    }

    #[test]
    fn ranges_that_end_before_they_start_and_large_numbers_survive_packing() {
        let mut chunks = extract(&parse_str(EVERY_SHAPE).expect("parse"), EVERY_SHAPE);
        chunks.functions[0].range = ByteRange { start: 10, end: 3 };
        chunks.functions[0].arity = usize::MAX;
        chunks.modules[0].range = ByteRange {
            start: usize::MAX - 1,
            end: usize::MAX,
        };
        assert_eq!(PackedChunks::pack(&chunks).unpack(), chunks);
    }

    #[test]
    fn bytes_that_do_not_unpack_give_empty_chunks_not_a_panic() {
        let chunks = extract(&parse_str(EVERY_SHAPE).expect("parse"), EVERY_SHAPE);
        let packed = PackedChunks::pack(&chunks);
        for cut in [1, packed.bytes.len() / 2, packed.bytes.len() - 1] {
            let truncated = PackedChunks {
                bytes: std::sync::Arc::from(&packed.bytes[..cut]),
                ..packed.clone()
            };
            assert_eq!(truncated.unpack(), FileChunks::default());
        }
        let mut trailing = packed.bytes.to_vec();
        trailing.push(0);
        let trailing = PackedChunks {
            bytes: std::sync::Arc::from(trailing),
            ..packed.clone()
        };
        assert_eq!(
            trailing.unpack(),
            FileChunks::default(),
            "trailing bytes refused"
        );
    }
}
