"""TF1's ``tf.flags`` (which is absl's flags): command-line flags without the absl dependency.

Behaviour follows absl so existing scripts keep working: flags are defined at import
time into the global ``FLAGS`` registry, ``FLAGS(argv)`` parses and returns the
positional arguments (program name first), reading a flag before parsing raises
``UnparsedFlagAccessError``, unknown flags are errors (everything after ``--`` is
positional), booleans accept ``--x``, ``--nox`` and ``--x=true/false``, and ``--help``
prints the flags (here it exits with status 0).
"""

from __future__ import annotations

import csv
import difflib
import os
import sys
import warnings
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Union


class Error(Exception):
    """Base class of every flags error."""


class DuplicateFlagError(Error):
    """A flag name was defined twice in the same registry."""


class IllegalFlagValueError(Error):
    """A flag got a value its type, bounds, enum or validators reject."""


class UnrecognizedFlagError(Error):
    """The command line named a flag that was never defined."""

    def __init__(self, flagname: str, flagvalue: str = "", suggestions: Optional[Sequence[str]] = None) -> None:
        self.flagname = flagname
        self.flagvalue = flagvalue
        hint = f". Did you mean: {', '.join(suggestions)} ?" if suggestions else ""
        super().__init__(f"Unknown command line flag '{flagname}'{hint}")


class UnparsedFlagAccessError(Error):
    """A flag was read before the command line was parsed."""


class ValidationError(Error):
    """Raised by validator functions to reject a value with a specific message."""


# ------------------------------------------------------------------------- parsers

_TRUE = ("true", "t", "1")
_FALSE = ("false", "f", "0")


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
    raise ValueError(f"Non-boolean argument to boolean flag: {value!r} (use true/false, t/f or 1/0)")


def _parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        base = 10
        body = text.lstrip("+-").lower()
        if body.startswith("0x"):
            base = 16
        elif body.startswith("0o"):
            base = 8
        try:
            return int(text, base)
        except ValueError:
            raise ValueError(f"expected an integer, got {value!r}") from None
    raise ValueError(f"expected an integer, got {type(value).__name__} {value!r}")


def _parse_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"expected a number, got {value!r}") from None
    raise ValueError(f"expected a number, got {type(value).__name__} {value!r}")


def _parse_list(value: Any) -> List[Any]:
    if isinstance(value, str):
        if not value.strip():
            return []
        return [item.strip() for item in next(csv.reader([value], strict=True))]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise ValueError(f"expected a comma-separated list, got {value!r}")


def _bounded(convert: Callable[[Any], Any], lower: Any, upper: Any) -> Callable[[Any], Any]:
    if lower is None and upper is None:
        return convert

    def parse(value: Any) -> Any:
        result = convert(value)
        if (lower is not None and result < lower) or (upper is not None and result > upper):
            low = "-inf" if lower is None else lower
            high = "inf" if upper is None else upper
            raise ValueError(f"{result} is not in the range [{low}, {high}]")
        return result

    return parse


def _enum_parser(enum_values: Sequence[str], case_sensitive: bool) -> Callable[[Any], str]:
    if not enum_values:
        raise ValueError("enum_values cannot be empty")
    values = list(enum_values)

    def parse(value: Any) -> str:
        if case_sensitive:
            if value in values:
                return value
        else:
            for candidate in values:
                if isinstance(value, str) and candidate.lower() == value.lower():
                    return candidate
        raise ValueError(f"value should be one of <{'|'.join(values)}>")

    return parse


# --------------------------------------------------------------------------- flags


class Flag:
    """One defined flag: its parser, default, current value and where it was defined."""

    def __init__(
        self,
        name: str,
        default: Any,
        help_string: str,
        parser: Callable[[Any], Any],
        type_name: str,
        boolean: bool = False,
        multi: bool = False,
        short_name: Optional[str] = None,
        module_name: str = "__main__",
        allow_override: bool = False,
    ) -> None:
        self.name = name
        self.help = help_string or "(no help available)"
        self.parser = parser
        self.flag_type = type_name
        self.boolean = boolean
        self.multi = multi
        self.short_name = short_name
        self.module_name = module_name
        self.allow_override = allow_override
        self.validators: List[Callable[[Any], None]] = []
        self.present = 0
        self.using_default_value = True
        self.default = self._convert_default(default)
        self.value = self._copy(self.default)

    def _convert_default(self, default: Any) -> Any:
        if default is None:
            return None
        try:
            if self.multi:
                items = default if isinstance(default, (list, tuple)) else [default]
                return [self.parser(item) for item in items]
            return self.parser(default)
        except (ValueError, TypeError) as exc:
            raise IllegalFlagValueError(f"flag --{self.name}={default!r}: {exc}") from None

    @staticmethod
    def _copy(value: Any) -> Any:
        return list(value) if isinstance(value, list) else value

    def parse(self, argument: Any) -> None:
        """Converts a command-line string (or value) and stores it; repeats append for multi flags."""
        try:
            value = self.parser(argument)
        except (ValueError, TypeError) as exc:
            raise IllegalFlagValueError(f"flag --{self.name}={argument}: {exc}") from None
        if self.multi:
            self.value = (self.value if self.present else []) + [value]
        else:
            self.value = value
        self.present += 1
        self.using_default_value = False

    def unparse(self) -> None:
        self.value = self._copy(self.default)
        self.present = 0
        self.using_default_value = True

    def serialize_default(self) -> str:
        return _format_value(self.default)


def _format_value(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _calling_module() -> tuple:
    """(module name, id of its globals) of the first frame outside this module."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    if frame is None:
        return "__main__", 0
    return frame.f_globals.get("__name__", "__main__"), id(frame.f_globals)


_HELP_NAMES = ("help", "h", "?", "helpshort", "helpfull")


class FlagValues:
    """A registry of flags; ``FLAGS`` is the global one, tests may build their own."""

    def __init__(self) -> None:
        self.__dict__["_flags"] = {}  # name (and short name) -> Flag
        self.__dict__["_defined_in"] = {}  # name -> id(globals) of the defining module
        self.__dict__["_parsed"] = False

    # -- registration
    def _register(self, flag: Flag, module_id: int) -> Flag:
        flags = self.__dict__["_flags"]
        for key in filter(None, (flag.name, flag.short_name)):
            existing = flags.get(key)
            if existing is None or flag.allow_override or existing.allow_override:
                continue
            if existing.module_name == flag.module_name and self._defined_in[existing.name] != module_id:
                return existing  # the same module imported a second time (absl tolerates this)
            raise DuplicateFlagError(
                f"The flag '{key}' is defined twice. First from {existing.module_name}, "
                f"Second from {flag.module_name}. Description from first occurrence: {existing.help}"
            )
        for key in filter(None, (flag.name, flag.short_name)):
            flags[key] = flag
        self._defined_in[flag.name] = module_id
        return flag

    # -- attribute access, as absl
    def __getattr__(self, name: str) -> Any:
        flag = self.__dict__.get("_flags", {}).get(name)  # .get: copy/pickle probe a bare instance
        if flag is None:
            raise AttributeError(name)
        if not self.__dict__["_parsed"] and not flag.present:
            raise UnparsedFlagAccessError(
                f"Trying to access flag --{name} before flags were parsed. "
                "Call FLAGS(sys.argv) or run the program through app.run(main) first."
            )
        return flag.value

    def __setattr__(self, name: str, value: Any) -> None:
        flag = self.__dict__["_flags"].get(name)
        if flag is None:
            raise UnrecognizedFlagError(name, value)
        flag.value = value
        flag.present = max(flag.present, 1)
        flag.using_default_value = False
        self._validate(flag)

    def __delattr__(self, name: str) -> None:
        flags = self.__dict__["_flags"]
        flag = flags.get(name)
        if flag is None:
            raise AttributeError(name)
        for key in filter(None, (flag.name, flag.short_name)):
            flags.pop(key, None)
        self._defined_in.pop(flag.name, None)

    def __getitem__(self, name: str) -> Flag:
        return self.__dict__["_flags"][name]

    def __contains__(self, name: object) -> bool:
        return name in self.__dict__["_flags"]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.__dict__["_flags"]))

    def __len__(self) -> int:
        return len(self.__dict__["_flags"])

    def _unique_flags(self) -> List[Flag]:
        seen: Dict[int, Flag] = {}
        for flag in self.__dict__["_flags"].values():
            seen.setdefault(id(flag), flag)
        return list(seen.values())

    # -- state
    def is_parsed(self) -> bool:
        return self.__dict__["_parsed"]

    def mark_as_parsed(self) -> None:
        self.__dict__["_parsed"] = True

    def unparse_flags(self) -> None:
        """Resets every flag to its default and forgets that parsing happened."""
        for flag in self._unique_flags():
            flag.unparse()
        self.__dict__["_parsed"] = False

    def flag_values_dict(self) -> Dict[str, Any]:
        return {flag.name: flag.value for flag in self._unique_flags()}

    def get_flag_value(self, name: str, default: Any) -> Any:
        flag = self.__dict__["_flags"].get(name)
        return default if flag is None else flag.value

    def set_default(self, name: str, value: Any) -> None:
        """Changes a flag's default (and its value, if the command line didn't set it)."""
        flag = self.__dict__["_flags"].get(name)
        if flag is None:
            raise UnrecognizedFlagError(name, value)
        flag.default = flag._convert_default(value)
        if not flag.present:
            flag.value = flag._copy(flag.default)

    # -- validation
    def _validate(self, flag: Flag) -> None:
        for check in flag.validators:
            check(flag.value)

    def validate_all_flags(self) -> None:
        for flag in self._unique_flags():
            self._validate(flag)

    # -- parsing
    def __call__(self, argv: Sequence[str], known_only: bool = False) -> List[str]:
        """Parses ``argv`` (program name first) and returns ``[program] + positional args``."""
        if isinstance(argv, (str, bytes)):
            raise TypeError("argv should be a tuple/list of strings, not bytes or string.")
        if not argv:
            raise ValueError("argv cannot be an empty list, and must contain the program name as the first element.")
        program, args = argv[0], list(argv[1:])
        flags = self.__dict__["_flags"]
        unparsed: List[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            i += 1
            if arg == "--":
                unparsed.extend(args[i:])
                break
            if not arg.startswith("-") or arg == "-":
                unparsed.append(arg)
                continue
            name, has_value, value = (arg[2:] if arg.startswith("--") else arg[1:]).partition("=")
            flag = flags.get(name)
            if flag is None and name in _HELP_NAMES:
                print(self.get_help(program))
                sys.exit(0)
            if flag is not None:
                if not has_value:
                    if flag.boolean:
                        value = "true"
                    elif i < len(args):
                        value = args[i]
                        i += 1
                    else:
                        raise IllegalFlagValueError(f"Missing value for flag {arg}")
                flag.parse(value)
                continue
            negated = flags.get(name[2:]) if name.startswith("no") else None
            if negated is not None and negated.boolean:
                if has_value:
                    raise IllegalFlagValueError(f"flag --{name}: boolean negation takes no value (got {arg!r})")
                negated.parse("false")
                continue
            if known_only:
                unparsed.append(arg)
                continue
            suggestions = difflib.get_close_matches(name, list(flags), n=3, cutoff=0.6)
            raise UnrecognizedFlagError(name, value, suggestions)
        self.mark_as_parsed()
        self.validate_all_flags()
        return [program] + unparsed

    # -- help
    def get_help(self, program: Optional[str] = None) -> str:
        """Usage text listing every flag grouped by the module that defined it."""
        program = os.path.basename(program or (sys.argv[0] if sys.argv and sys.argv[0] else "program"))
        lines = [f"USAGE: {program} [flags]", "flags:"]
        by_module: Dict[str, List[Flag]] = {}
        for flag in self._unique_flags():
            by_module.setdefault(flag.module_name, []).append(flag)
        for module in sorted(by_module, key=lambda m: (m != "__main__", m)):
            lines.append("")
            lines.append(f"{program if module == '__main__' else module}:")
            for flag in sorted(by_module[module], key=lambda f: f.name):
                spelled = f"--[no]{flag.name}" if flag.boolean else f"--{flag.name}"
                if flag.short_name:
                    spelled = f"-{flag.short_name},{spelled}"
                lines.append(f"  {spelled}: {flag.help}")
                lines.append(f"    (default: {flag.serialize_default()!r})")
                lines.append(f"    ({flag.flag_type})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.get_help()


FLAGS = FlagValues()


class FlagHolder:
    """What ``DEFINE_*`` returns: ``holder.value`` reads the flag with the same checks as ``FLAGS.name``."""

    def __init__(self, flag_values: FlagValues, flag: Flag) -> None:
        self._flag_values = flag_values
        self._flag = flag

    @property
    def name(self) -> str:
        return self._flag.name

    @property
    def value(self) -> Any:
        return getattr(self._flag_values, self._flag.name)

    @property
    def default(self) -> Any:
        return self._flag.default

    @property
    def present(self) -> bool:
        return bool(self._flag.present)

    def __repr__(self) -> str:
        return f"FlagHolder(name={self.name!r})"


# ------------------------------------------------------------------------ DEFINE_*


def _define(
    name: str,
    default: Any,
    help_string: str,
    parser: Callable[[Any], Any],
    type_name: str,
    flag_values: FlagValues,
    required: bool,
    boolean: bool = False,
    multi: bool = False,
    short_name: Optional[str] = None,
    module_name: Optional[str] = None,
    allow_override: bool = False,
) -> FlagHolder:
    if not isinstance(name, str) or not name:
        raise Error(f"Flag name must be a non-empty string, got {name!r}")
    calling_module, module_id = _calling_module()
    flag = Flag(
        name,
        default,
        help_string,
        parser,
        type_name,
        boolean=boolean,
        multi=multi,
        short_name=short_name,
        module_name=module_name or calling_module,
        allow_override=allow_override,
    )
    flag = flag_values._register(flag, module_id)
    holder = FlagHolder(flag_values, flag)
    if required:
        mark_flag_as_required(name, flag_values)
    return holder


def DEFINE_string(  # noqa: N802 -- absl spelling
    name: str, default: Optional[str], help: str, flag_values: FlagValues = FLAGS, required: bool = False, **args: Any
) -> FlagHolder:
    """A flag whose value is a string."""
    return _define(name, default, help, _as_string, "a string", flag_values, required, **args)


def _as_string(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def DEFINE_boolean(  # noqa: N802
    name: str, default: Any, help: str, flag_values: FlagValues = FLAGS, required: bool = False, **args: Any
) -> FlagHolder:
    """A boolean flag: ``--name``, ``--noname`` or ``--name=true|false``."""
    return _define(name, default, help, _parse_bool, "a boolean", flag_values, required, boolean=True, **args)


DEFINE_bool = DEFINE_boolean


def DEFINE_integer(  # noqa: N802
    name: str,
    default: Any,
    help: str,
    lower_bound: Optional[int] = None,
    upper_bound: Optional[int] = None,
    flag_values: FlagValues = FLAGS,
    required: bool = False,
    **args: Any,
) -> FlagHolder:
    """An integer flag, optionally bounded (inclusive)."""
    parser = _bounded(_parse_int, lower_bound, upper_bound)
    return _define(name, default, help, parser, "an integer", flag_values, required, **args)


def DEFINE_float(  # noqa: N802
    name: str,
    default: Any,
    help: str,
    lower_bound: Optional[float] = None,
    upper_bound: Optional[float] = None,
    flag_values: FlagValues = FLAGS,
    required: bool = False,
    **args: Any,
) -> FlagHolder:
    """A floating-point flag, optionally bounded (inclusive)."""
    parser = _bounded(_parse_float, lower_bound, upper_bound)
    return _define(name, default, help, parser, "a number", flag_values, required, **args)


def DEFINE_enum(  # noqa: N802
    name: str,
    default: Optional[str],
    enum_values: Sequence[str],
    help: str,
    flag_values: FlagValues = FLAGS,
    required: bool = False,
    case_sensitive: bool = True,
    **args: Any,
) -> FlagHolder:
    """A string flag restricted to ``enum_values``."""
    parser = _enum_parser(enum_values, case_sensitive)
    type_name = f"one of <{'|'.join(enum_values)}>"
    return _define(name, default, help, parser, type_name, flag_values, required, **args)


def DEFINE_list(  # noqa: N802
    name: str, default: Any, help: str, flag_values: FlagValues = FLAGS, required: bool = False, **args: Any
) -> FlagHolder:
    """A comma-separated list of strings (``--x=a,b,c``)."""
    return _define(name, default, help, _parse_list, "a comma separated list", flag_values, required, **args)


def DEFINE_multi_string(  # noqa: N802
    name: str, default: Any, help: str, flag_values: FlagValues = FLAGS, required: bool = False, **args: Any
) -> FlagHolder:
    """A string flag that may repeat; its value is the list of occurrences."""
    return _define(
        name, default, help, _as_string, "a string; repeat this option to specify a list of values",
        flag_values, required, multi=True, **args,
    )  # fmt: skip


def DEFINE_multi_integer(  # noqa: N802
    name: str,
    default: Any,
    help: str,
    lower_bound: Optional[int] = None,
    upper_bound: Optional[int] = None,
    flag_values: FlagValues = FLAGS,
    required: bool = False,
    **args: Any,
) -> FlagHolder:
    """An integer flag that may repeat; its value is the list of occurrences."""
    parser = _bounded(_parse_int, lower_bound, upper_bound)
    return _define(
        name, default, help, parser, "an integer; repeat this option to specify a list of values",
        flag_values, required, multi=True, **args,
    )  # fmt: skip


# ---------------------------------------------------------------------- validators

FlagName = Union[str, FlagHolder]


def _flag_name(flag_name: FlagName) -> str:
    return flag_name.name if isinstance(flag_name, FlagHolder) else flag_name


def register_validator(
    flag_name: FlagName,
    checker: Callable[[Any], bool],
    message: str = "Flag validation failed",
    flag_values: FlagValues = FLAGS,
) -> None:
    """Runs ``checker(value)`` after parsing and on assignment; False or ValidationError rejects."""
    name = _flag_name(flag_name)
    if name not in flag_values:
        raise KeyError(f"Flag --{name} is not defined; define it before registering a validator")
    flag = flag_values[name]

    def check(value: Any) -> None:
        try:
            ok = checker(value)
            reason = message
        except ValidationError as exc:
            ok, reason = False, str(exc)
        if not ok:
            raise IllegalFlagValueError(f"flag --{name}={_format_value(value)}: {reason}")

    flag.validators.append(check)


def validator(
    flag_name: FlagName, message: str = "Flag validation failed", flag_values: FlagValues = FLAGS
) -> Callable[[Callable[[Any], bool]], Callable[[Any], bool]]:
    """Decorator form of ``register_validator``."""

    def decorate(checker: Callable[[Any], bool]) -> Callable[[Any], bool]:
        register_validator(flag_name, checker, message, flag_values)
        return checker

    return decorate


def mark_flag_as_required(flag_name: FlagName, flag_values: FlagValues = FLAGS) -> None:
    """Parsing fails unless the flag ends up with a value other than None."""
    name = _flag_name(flag_name)
    if name in flag_values and flag_values[name].default is not None:
        warnings.warn(
            f"Flag --{name} has a non-None default value; therefore, mark_flag_as_required "
            "will pass even if flag is not specified in the command line!",
            stacklevel=2,
        )
    register_validator(name, lambda value: value is not None, f"Flag --{name} must have a value other than None.", flag_values)


def mark_flags_as_required(flag_names: Sequence[FlagName], flag_values: FlagValues = FLAGS) -> None:
    """``mark_flag_as_required`` for each name."""
    for name in flag_names:
        mark_flag_as_required(name, flag_values)


__all__ = [
    "DEFINE_bool",
    "DEFINE_boolean",
    "DEFINE_enum",
    "DEFINE_float",
    "DEFINE_integer",
    "DEFINE_list",
    "DEFINE_multi_integer",
    "DEFINE_multi_string",
    "DEFINE_string",
    "DuplicateFlagError",
    "Error",
    "FLAGS",
    "Flag",
    "FlagHolder",
    "FlagValues",
    "IllegalFlagValueError",
    "UnparsedFlagAccessError",
    "UnrecognizedFlagError",
    "ValidationError",
    "mark_flag_as_required",
    "mark_flags_as_required",
    "register_validator",
    "validator",
]
