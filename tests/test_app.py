"""tf.flags (absl-compatible) and tf.app.run, each test on its own FlagValues registry."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flowgraph import app, flags

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def fv():
    return flags.FlagValues()


def _define_common(fv):
    flags.DEFINE_string("name", "anon", "Who.", flag_values=fv)
    flags.DEFINE_integer("steps", 10, "How many.", flag_values=fv)
    flags.DEFINE_float("lr", 0.1, "Learning rate.", flag_values=fv)
    flags.DEFINE_boolean("verbose", False, "Chatty.", flag_values=fv)
    flags.DEFINE_bool("cache", True, "Cache.", flag_values=fv)
    flags.DEFINE_enum("mode", "train", ["train", "eval"], "Mode.", flag_values=fv)
    flags.DEFINE_list("ids", "a,b", "Ids.", flag_values=fv)


def test_app_flags_is_the_flags_module():
    assert app.flags is flags
    assert isinstance(flags.FLAGS, flags.FlagValues)


def test_defaults_and_typed_parsing(fv):
    _define_common(fv)
    rest = fv(["prog"])
    assert rest == ["prog"]
    assert (fv.name, fv.steps, fv.lr, fv.verbose, fv.cache, fv.mode, fv.ids) == (
        "anon", 10, 0.1, False, True, "train", ["a", "b"],
    )  # fmt: skip
    rest = fv(["prog", "--name=bob", "--steps", "42", "-lr=0.5", "--verbose", "--nocache", "--mode=eval", "--ids=x, y"])
    assert rest == ["prog"]
    assert (fv.name, fv.steps, fv.lr, fv.verbose, fv.cache, fv.mode, fv.ids) == (
        "bob", 42, 0.5, True, False, "eval", ["x", "y"],
    )  # fmt: skip
    assert isinstance(fv.steps, int) and isinstance(fv.lr, float)


def test_boolean_spellings(fv):
    flags.DEFINE_boolean("x", None, "X.", flag_values=fv)
    for args, expected in (
        (["--x"], True),
        (["--nox"], False),
        (["--x=true"], True),
        (["--x=false"], False),
        (["--x=True"], True),
        (["--x=0"], False),
        (["--x=t"], True),
    ):
        fv.unparse_flags()
        fv(["p"] + args)
        assert fv.x is expected, args
    with pytest.raises(flags.IllegalFlagValueError, match="--x=maybe"):
        fv(["p", "--x=maybe"])
    with pytest.raises(flags.IllegalFlagValueError, match="nox"):
        fv(["p", "--nox=1"])
    fv.unparse_flags()
    rest = fv(["p", "--x", "false"])  # booleans never take the next argument
    assert fv.x is True and rest == ["p", "false"]


def test_positional_args_dash_dash_and_repeats(fv):
    _define_common(fv)
    rest = fv(["prog", "in.txt", "--steps=1", "out.txt", "--steps=2", "-", "--", "--steps=3", "--unknown"])
    assert rest == ["prog", "in.txt", "out.txt", "-", "--steps=3", "--unknown"]
    assert fv.steps == 2  # last occurrence wins


def test_bad_values_name_the_flag(fv):
    _define_common(fv)
    flags.DEFINE_integer("pos", 1, "Positive.", lower_bound=1, flag_values=fv)
    with pytest.raises(flags.IllegalFlagValueError, match=r"flag --steps=ten: expected an integer"):
        fv(["p", "--steps=ten"])
    with pytest.raises(flags.IllegalFlagValueError, match=r"--lr=fast"):
        fv(["p", "--lr", "fast"])
    with pytest.raises(flags.IllegalFlagValueError, match=r"flag --pos=0: 0 is not in the range \[1, inf\]"):
        fv(["p", "--pos=0"])
    with pytest.raises(flags.IllegalFlagValueError, match="Missing value for flag --name"):
        fv(["p", "--name"])
    assert issubclass(flags.IllegalFlagValueError, flags.Error)


def test_integer_bases(fv):
    flags.DEFINE_integer("n", 0, "N.", flag_values=fv)
    fv(["p", "--n=0x1f"])
    assert fv.n == 31
    fv(["p", "--n", "-5"])
    assert fv.n == -5


def test_enum(fv):
    flags.DEFINE_enum("mode", "train", ["train", "eval"], "Mode.", flag_values=fv)
    flags.DEFINE_enum("color", None, ["Red", "Blue"], "Color.", case_sensitive=False, flag_values=fv)
    with pytest.raises(flags.IllegalFlagValueError, match=r"flag --mode=test: value should be one of <train\|eval>"):
        fv(["p", "--mode=test"])
    with pytest.raises(flags.IllegalFlagValueError, match="--mode=Train"):
        fv(["p", "--mode=Train"])  # case-sensitive by default
    fv(["p", "--color=red"])
    assert fv.color == "Red"
    with pytest.raises(flags.IllegalFlagValueError, match="--bad"):
        flags.DEFINE_enum("bad", "nope", ["a"], "Bad default.", flag_values=fv)


def test_list_and_multi(fv):
    flags.DEFINE_list("names", [], "Names.", flag_values=fv)
    flags.DEFINE_multi_string("tag", None, "Tags.", flag_values=fv)
    flags.DEFINE_multi_integer("k", [1], "Ks.", flag_values=fv)
    fv(["p"])
    assert fv.names == [] and fv.tag is None and fv.k == [1]
    fv(["p", '--names=a,"b,c",d', "--tag=x", "--tag", "y", "--k=3", "--k=4"])
    assert fv.names == ["a", "b,c", "d"]
    assert fv.tag == ["x", "y"] and fv.k == [3, 4]
    fv(["p", "--names="])
    assert fv.names == []


def test_unknown_flag_is_an_error_with_suggestion(fv):
    _define_common(fv)
    with pytest.raises(flags.UnrecognizedFlagError, match="Unknown command line flag 'stpes'. Did you mean: steps"):
        fv(["p", "--stpes=3"])
    assert fv(["p", "--stpes=3", "x"], known_only=True) == ["p", "--stpes=3", "x"]


def test_access_before_parse_raises(fv):
    holder = flags.DEFINE_string("early", "x", "Early.", flag_values=fv)
    with pytest.raises(flags.UnparsedFlagAccessError, match="--early before flags were parsed"):
        fv.early
    with pytest.raises(flags.UnparsedFlagAccessError):
        holder.value
    with pytest.raises(AttributeError):
        fv.not_a_flag
    assert fv["early"].default == "x"  # the Flag object itself is always available
    fv(["p"])
    assert fv.early == "x" and holder.value == "x" and holder.name == "early"
    assert fv.is_parsed()


def test_assignment_and_helpers(fv):
    _define_common(fv)
    fv.steps = 99  # tests commonly override flags this way
    assert fv.steps == 99
    fv(["p"])
    assert fv.flag_values_dict()["steps"] == 99
    assert "steps" in fv and "nope" not in fv
    assert fv.get_flag_value("nope", "dflt") == "dflt"
    with pytest.raises(flags.UnrecognizedFlagError):
        fv.nope = 1
    fv.unparse_flags()
    assert not fv.is_parsed()
    fv(["p"])
    assert fv.steps == 10
    fv.set_default("steps", "7")
    assert fv.steps == 7 and fv["steps"].default == 7


def test_required_flags(fv):
    flags.DEFINE_string("data_dir", None, "Data.", flag_values=fv)
    flags.DEFINE_integer("seed", None, "Seed.", flag_values=fv, required=True)
    flags.mark_flag_as_required("data_dir", flag_values=fv)
    with pytest.raises(flags.IllegalFlagValueError, match="Flag --data_dir must have a value other than None"):
        fv(["p", "--seed=1"])
    fv.unparse_flags()  # values persist across parses, as in absl
    with pytest.raises(flags.IllegalFlagValueError, match="Flag --seed must have a value other than None"):
        fv(["p", "--data_dir=/d"])
    fv(["p", "--data_dir=/d", "--seed=3"])
    assert (fv.data_dir, fv.seed) == ("/d", 3)


def test_required_with_default_warns(fv):
    flags.DEFINE_string("d", "x", "D.", flag_values=fv)
    with pytest.warns(UserWarning, match="non-None default"):
        flags.mark_flags_as_required(["d"], flag_values=fv)


def test_validators(fv):
    flags.DEFINE_integer("even", 2, "Even.", flag_values=fv)

    @flags.validator("even", message="must be even", flag_values=fv)
    def _check(value):
        return value % 2 == 0

    with pytest.raises(flags.IllegalFlagValueError, match="flag --even=3: must be even"):
        fv(["p", "--even=3"])
    fv(["p", "--even=4"])
    assert fv.even == 4

    def raises(value):
        raise flags.ValidationError(f"{value} is unlucky")

    flags.DEFINE_integer("lucky", 13, "Lucky.", flag_values=fv)
    flags.register_validator("lucky", raises, flag_values=fv)
    with pytest.raises(flags.IllegalFlagValueError, match="13 is unlucky"):
        fv(["p"])


def test_duplicate_definition(fv):
    flags.DEFINE_string("dup", "a", "First.", flag_values=fv)
    with pytest.raises(flags.DuplicateFlagError, match="The flag 'dup' is defined twice"):
        flags.DEFINE_integer("dup", 1, "Second.", flag_values=fv)
    assert issubclass(flags.DuplicateFlagError, flags.Error)
    # Explicitly removing a flag allows redefining it.
    delattr(fv, "dup")
    flags.DEFINE_integer("dup", 1, "Second.", flag_values=fv)
    fv(["p"])
    assert fv.dup == 1


def test_help_prints_flags_and_exits_zero(fv, capsys):
    _define_common(fv)
    with pytest.raises(SystemExit) as info:
        fv(["prog", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "USAGE: prog [flags]" in out
    assert "--steps: How many." in out and "(default: '10')" in out
    assert "--[no]verbose: Chatty." in out
    assert "one of <train|eval>" in out


def test_argv_validation(fv):
    with pytest.raises(TypeError):
        fv("prog --x")
    with pytest.raises(ValueError):
        fv([])


# ---------------------------------------------------------------------------- app.run


@pytest.fixture
def global_flags(monkeypatch):
    """app.run parses flags.FLAGS; give it a fresh registry for this test."""
    registry = flags.FlagValues()
    monkeypatch.setattr(flags, "FLAGS", registry)
    return registry


def test_run_passes_unparsed_args_and_exits_with_main_result(global_flags):
    flags.DEFINE_integer("epochs", 1, "Epochs.", flag_values=global_flags)
    seen = {}

    def main(argv):
        seen["argv"] = argv
        seen["epochs"] = global_flags.epochs
        return 3

    with pytest.raises(SystemExit) as info:
        app.run(main, argv=["train.py", "data.csv", "--epochs=5", "--not_defined=1"])
    assert info.value.code == 3
    # TF1's app.run tolerates undefined flags and hands them to main.
    assert seen == {"argv": ["train.py", "data.csv", "--not_defined=1"], "epochs": 5}


def test_run_exit_code_zero_when_main_returns_none(global_flags, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["prog.py", "pos"])
    calls = []
    with pytest.raises(SystemExit) as info:
        app.run(lambda argv: calls.append(argv))
    assert info.value.code is None
    assert calls == [["prog.py", "pos"]]


def test_run_reports_flag_errors(global_flags, capsys):
    flags.DEFINE_integer("epochs", 1, "Epochs.", flag_values=global_flags)
    with pytest.raises(SystemExit) as info:
        app.run(lambda argv: 0, argv=["prog", "--epochs=many"])
    assert info.value.code == 1
    assert "flag --epochs=many" in capsys.readouterr().err


def test_run_usage_error(global_flags, capsys):
    def main(argv):
        raise app.UsageError("Too many command-line arguments.", exitcode=2)

    with pytest.raises(SystemExit) as info:
        app.run(main, argv=["prog"])
    assert info.value.code == 2
    assert "Too many command-line arguments." in capsys.readouterr().err


def _script(tmp_path, body):
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(body))
    return path


def _run_script(path, *args):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, str(path), *args], capture_output=True, text=True, env=env, timeout=60
    )


SCRIPT = """
    from flowgraph import app, flags

    flags.DEFINE_string("greeting", "hi", "What to say.")
    flags.DEFINE_boolean("shout", False, "Upper-case it.")
    FLAGS = flags.FLAGS

    def main(argv):
        text = FLAGS.greeting.upper() if FLAGS.shout else FLAGS.greeting
        print(text, argv[1:])
        return len(argv) - 1

    if __name__ == "__main__":
        app.run()  # main defaults to __main__.main, as in TF1
"""


def test_script_end_to_end(tmp_path):
    path = _script(tmp_path, SCRIPT)
    done = _run_script(path, "--greeting=hello", "--shout", "a", "b")
    assert done.stdout.strip() == "HELLO ['a', 'b']"
    assert done.returncode == 2


def test_script_help_and_bad_flag(tmp_path):
    path = _script(tmp_path, SCRIPT)
    done = _run_script(path, "--help")
    assert done.returncode == 0
    assert "--greeting: What to say." in done.stdout and "--[no]shout" in done.stdout
    done = _run_script(path, "--shout=loud")
    assert done.returncode == 1
    assert "--shout=loud" in done.stderr and "Traceback" not in done.stderr
