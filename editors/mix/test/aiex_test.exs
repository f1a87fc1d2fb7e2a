defmodule AiexTest do
  # Not async: the tests set AIEX_BIN, which every call reads.
  use ExUnit.Case, async: false

  doctest Aiex
  doctest Aiex.JSON
  doctest Aiex.IEx
  doctest Aiex.Explain

  @moduletag :tmp_dir

  # A stand-in for the binary: prints its arguments as JSON, or fails with status 3.
  defp fake_binary(dir, script) do
    path = Path.join(dir, "aiex")
    File.write!(path, "#!/bin/sh\n" <> script)
    File.chmod!(path, 0o755)
    System.put_env("AIEX_BIN", path)
    on_exit(fn -> System.delete_env("AIEX_BIN") end)
    path
  end

  describe "the missing binary" do
    test "every task stops with the install command" do
      System.put_env("AIEX_BIN", "/nonexistent/aiex")
      on_exit(fn -> System.delete_env("AIEX_BIN") end)

      for {task, args} <- [
            {Mix.Tasks.Aiex.Check, []},
            {Mix.Tasks.Aiex.Doctor, []},
            {Mix.Tasks.Aiex.Context, ["lib/a.ex:1:1"]},
            {Mix.Tasks.Aiex.Explain, ["A.b/0"]},
            {Mix.Tasks.Aiex.Gen.Test, ["lib/a.ex"]}
          ] do
        error = assert_raise Mix.Error, fn -> task.run(args) end
        assert error.message =~ "aiex binary was not found"
        assert error.message =~ "cargo install --locked --path server"
      end
    end
  end

  describe "running the binary" do
    test "output is passed on and the exit status becomes the task's", %{tmp_dir: dir} do
      fake_binary(dir, "echo \"finding in $2\"\nexit 1\n")

      output =
        ExUnit.CaptureIO.capture_io(fn ->
          assert catch_exit(Mix.Tasks.Aiex.Check.run(["lib"])) == {:shutdown, 1}
        end)

      assert output == "finding in lib\n"
    end

    test "explain asks for JSON lines and prints the deltas as they come", %{tmp_dir: dir} do
      fake_binary(dir, ~S"""
      [ "$1 $2 $3 $4" = "explain Cart.total/1 --format json-lines" ] || exit 9
      printf '{"event":"delta","text":"# Cart.total/1\\n\\n"}\n'
      printf '{"event":"delta","text":"Sums"}\n'
      printf '{"event":"result","title":"Cart.total/1","markdown":"# Cart.total/1\\n\\nSums\\n"}\n'
      """)

      output = ExUnit.CaptureIO.capture_io(fn -> Mix.Tasks.Aiex.Explain.run(["Cart.total/1"]) end)
      # The line the deltas left open is ended.
      assert output == "# Cart.total/1\n\nSums\n"
    end

    test "a function outside the workspace is described to the binary", %{tmp_dir: dir} do
      fake_binary(dir, ~S"""
      [ "$1 $2 $3" = "explain Enum.map/2 --external" ] || exit 9
      grep -q '"module":"Enum"' "$4" || exit 8
      grep -q 'Returns a list where each element' "$4" || exit 7
      printf '{"event":"result","title":"Enum.map/2","markdown":"# Enum.map/2\\n\\nMaps.\\n"}\n'
      """)

      output = ExUnit.CaptureIO.capture_io(fn -> Mix.Tasks.Aiex.Explain.run(["Enum.map/2"]) end)
      # Nothing streamed: the result is printed whole.
      assert output == "# Enum.map/2\n\nMaps.\n"
    end

    test "gen.test runs the tests unless --no-run", %{tmp_dir: dir} do
      fake_binary(dir, ~S"""
      case "$*" in
        *--run*) run=true ;;
        *) run=false ;;
      esac
      printf '{"path":"%s/test/cart_test.exs","created":true,"kept":1,"dropped":0,"not_run":null,"summary":"run=%s"}\n' "$PWD" "$run"
      """)

      Mix.shell(Mix.Shell.Process)
      on_exit(fn -> Mix.shell(Mix.Shell.IO) end)
      Mix.Tasks.Aiex.Gen.Test.run(["lib/cart.ex", "--function", "total/1"])
      assert_received {:mix_shell, :info, ["created test/cart_test.exs: run=true"]}
      Mix.Tasks.Aiex.Gen.Test.run(["lib/cart.ex", "--no-run"])
      assert_received {:mix_shell, :info, ["created test/cart_test.exs: run=false"]}
    end

    test "a failed command stops the task with its status", %{tmp_dir: dir} do
      fake_binary(dir, "exit 1\n")
      assert catch_exit(Mix.Tasks.Aiex.Explain.run(["Cart.total/1"])) == {:shutdown, 1}
    end
  end

  describe "Aiex.JSON" do
    test "decodes what the binary prints" do
      assert Aiex.JSON.decode!(~s( {"a": [true, false, null, -1.5e2, "q\\"\\n"], "b": {}} \n)) ==
               %{"a" => [true, false, nil, -150.0, "q\"\n"], "b" => %{}}

      assert Aiex.JSON.decode!(~s("\\ud83d\\ude00")) == "😀"
    end

    test "rejects what is not JSON" do
      assert_raise ArgumentError, fn -> Aiex.JSON.decode!("{\"a\" 1}") end
      assert_raise ArgumentError, fn -> Aiex.JSON.decode!("[1] trailing") end
    end
  end

  test "usage errors name the expected arguments" do
    assert_raise Mix.Error, ~r/usage: mix aiex.explain/, fn -> Mix.Tasks.Aiex.Explain.run([]) end

    assert_raise Mix.Error, ~r/usage: mix aiex.gen.test/, fn ->
      Mix.Tasks.Aiex.Gen.Test.run([])
    end

    assert_raise ArgumentError, fn -> Aiex.IEx.target!(quote(do: 1 + 2), __ENV__) end
  end
end
