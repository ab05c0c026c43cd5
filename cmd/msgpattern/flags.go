package main

// Flag parsing shared by the commands: flags anywhere among the arguments,
// help on stdout, errors on stderr with flags spelled --name as the help
// spells them, and flag types that reject values that make no sense.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// parseFlags parses args with the flags anywhere among the positional
// arguments (`send ping -v` works as `send -v ping`), and returns the
// positional ones. "--" ends the flags; a negative number is positional,
// so `send add -5` sends -5.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' || json.Valid([]byte(a)) {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if f := fs.Lookup(name); f != nil && !hasValue && !isBoolFlag(f) && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	if err := fs.Parse(flags); err != nil {
		return nil, err
	}
	return pos, nil
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// dashes spells a flag as the help does: -c for one letter, --name else.
func dashes(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// setUsage makes fs print text, then its flags in --name form, on stdout:
// the help is asked for (-h, --help, msgpattern help CMD). The flag
// package prints nothing itself: parseCommand reports its errors.
func setUsage(fs *flag.FlagSet, text string) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() { printUsage(os.Stdout, fs, text) }
}

func printUsage(w io.Writer, fs *flag.FlagSet, text string) {
	type line struct{ left, usage string }
	var lines []line
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		if t, ok := f.Value.(interface{ typeName() string }); ok && name == "value" {
			name = t.typeName()
		}
		left := dashes(f.Name)
		if name != "" {
			left += " " + name
		}
		if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "0s" {
			usage += fmt.Sprintf(" (default %s)", d)
		}
		lines = append(lines, line{left, usage})
		width = max(width, len(left))
	})
	fmt.Fprint(w, text)
	fmt.Fprintln(w, "\nFlags:")
	for _, l := range lines {
		fmt.Fprintf(w, "  %-*s  %s\n", width, l.left, l.usage)
	}
}

// flagNameInError finds the flag the flag package names in its errors
// ("flag provided but not defined: -x", "invalid value "v" for flag -x: …",
// "flag needs an argument: -x", "invalid boolean value "v" for -x: …").
var flagNameInError = regexp.MustCompile(`^(flag provided but not defined: |flag needs an argument: |invalid (?:boolean )?value "(?:[^"\\]|\\.)*" for (?:flag )?)-([^\s:=]+)`)

// flagError is err, from the flag package, with the flag spelled as the
// help spells it.
func flagError(err error) string {
	msg := err.Error()
	if m := flagNameInError.FindStringSubmatchIndex(msg); m != nil {
		return msg[:m[4]-1] + dashes(msg[m[4]:m[5]]) + msg[m[5]:]
	}
	return msg
}

// parseCommand parses a command's flags and its arguments, of which there
// must be between minArgs and maxArgs (described by want); ok is false
// when the command should exit at once with code. -h prints the usage on
// stdout; a mistake prints what is wrong, and how to get the usage, on
// stderr.
func parseCommand(fs *flag.FlagSet, args []string, want string, minArgs, maxArgs int) (pos []string, code int, ok bool) {
	help := fs.Usage
	fs.Usage = func() {} // the flag package calls it on errors too
	defer func() { fs.Usage = help }()
	pos, err := parseFlags(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		help()
		return nil, exitOK, false
	case err != nil:
		fmt.Fprintf(os.Stderr, "msgpattern %s: %s\n", fs.Name(), flagError(err))
	case len(pos) < minArgs || len(pos) > maxArgs:
		fmt.Fprintf(os.Stderr, "msgpattern %s: want %s, got %d argument(s)\n", fs.Name(), want, len(pos))
	default:
		return pos, exitOK, true
	}
	fmt.Fprintf(os.Stderr, "Run 'msgpattern %s -h' for usage.\n", fs.Name())
	return nil, exitUsage, false
}

// usageErrorf reports a flag whose value does not go with the others.
func usageErrorf(cmd, format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "msgpattern %s: %s\nRun 'msgpattern %[1]s -h' for usage.\n", cmd, fmt.Sprintf(format, args...))
	return exitUsage
}

// durationFlag is a duration that must not be negative.
type durationFlag struct{ p *time.Duration }

func nonNegativeDuration(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var(durationFlag{p}, name, usage)
}

func (d durationFlag) typeName() string { return "duration" }

func (d durationFlag) String() string {
	if d.p == nil {
		return ""
	}
	return d.p.String()
}

func (d durationFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration such as 500ms, 10s or 1m30s")
	}
	if v < 0 {
		return errors.New("must not be negative")
	}
	*d.p = v
	return nil
}

// intFlag is an int of at least min.
type intFlag struct {
	p   *int
	min int
}

func intAtLeast(fs *flag.FlagSet, p *int, name string, value, min int, usage string) {
	*p = value
	fs.Var(intFlag{p, min}, name, usage)
}

func (i intFlag) typeName() string { return "int" }

func (i intFlag) String() string {
	if i.p == nil {
		return ""
	}
	return strconv.Itoa(*i.p)
}

func (i intFlag) Set(s string) error {
	v, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("want a whole number")
	}
	if v < i.min {
		return fmt.Errorf("must be at least %d", i.min)
	}
	*i.p = v
	return nil
}

// floatFlag is a number between min and max.
type floatFlag struct {
	p        *float64
	min, max float64
}

func floatBetween(fs *flag.FlagSet, p *float64, name string, value, min, max float64, usage string) {
	*p = value
	fs.Var(floatFlag{p, min, max}, name, usage)
}

func (f floatFlag) typeName() string { return "float" }

func (f floatFlag) String() string {
	if f.p == nil {
		return ""
	}
	return strconv.FormatFloat(*f.p, 'g', -1, 64)
}

func (f floatFlag) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) {
		return errors.New("want a number")
	}
	switch {
	case v < f.min && f.max == math.Inf(1):
		return fmt.Errorf("must be at least %g", f.min)
	case v < f.min || v > f.max:
		return fmt.Errorf("must be between %g and %g", f.min, f.max)
	}
	*f.p = v
	return nil
}

// choiceFlag is one of a few words.
type choiceFlag struct {
	p       *string
	choices []string
}

func (c choiceFlag) typeName() string { return strings.Join(c.choices, "|") }

func (c choiceFlag) String() string {
	if c.p == nil {
		return ""
	}
	return *c.p
}

func (c choiceFlag) Set(s string) error {
	for _, ch := range c.choices {
		if s == ch {
			*c.p = s
			return nil
		}
	}
	return fmt.Errorf("want %s", strings.Join(c.choices, " or "))
}

// byteSize is a flag of a byte count with an optional K, M or G suffix
// (powers of 1024).
type byteSize struct{ p *int }

func (b byteSize) typeName() string { return "size" }

func (b byteSize) String() string {
	if b.p == nil {
		return ""
	}
	return formatByteSize(int64(*b.p))
}

func (b byteSize) Set(s string) error {
	n, err := parseByteSize(s)
	if err != nil {
		return err
	}
	if n > math.MaxInt || n < math.MinInt {
		return errors.New("out of range")
	}
	*b.p = int(n)
	return nil
}

type byteSize64 struct{ p *int64 }

func (b byteSize64) typeName() string { return "size" }

func (b byteSize64) String() string {
	if b.p == nil {
		return ""
	}
	return formatByteSize(*b.p)
}

func (b byteSize64) Set(s string) error {
	n, err := parseByteSize(s)
	if err == nil {
		*b.p = n
	}
	return err
}

func formatByteSize(n int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func parseByteSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errors.New("want a number of bytes, with an optional K, M or G suffix")
	}
	if n > math.MaxInt64/mult || n < math.MinInt64/mult {
		return 0, errors.New("out of range")
	}
	return n * mult, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
