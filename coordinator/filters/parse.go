package filters

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/seedrt/seed/errdefs"
)

// parser is a recursive-descent parser over one filter string.
type parser struct {
	in  string
	pos int
}

func parse(s string) ([]selector, error) {
	p := &parser{in: s}
	if !utf8.ValidString(s) {
		return nil, p.errorf("not valid UTF-8")
	}
	var sels []selector
	for {
		sel, err := p.selector()
		if err != nil {
			return nil, err
		}
		sels = append(sels, sel)
		p.skipSpace()
		if p.eof() {
			return sels, nil
		}
		if !p.consume(",") {
			return nil, p.errorf("expected ',' or end of filter")
		}
	}
}

func (p *parser) selector() (selector, error) {
	path, err := p.fieldpath()
	if err != nil {
		return selector{}, err
	}
	p.skipSpace()
	if p.eof() || p.in[p.pos] == ',' {
		return selector{path: path, op: opPresent}, nil
	}
	op, err := p.operator()
	if err != nil {
		return selector{}, err
	}
	p.skipSpace()
	start := p.pos
	value, err := p.value(op == opMatches)
	if err != nil {
		return selector{}, err
	}
	sel := selector{path: path, op: op, value: value}
	if op == opMatches {
		if sel.re, err = regexp.Compile(value); err != nil {
			p.pos = start
			return selector{}, p.errorf("invalid regular expression %q: %v", value, err)
		}
	}
	return sel, nil
}

func (p *parser) fieldpath() ([]string, error) {
	var path []string
	for {
		f, err := p.field()
		if err != nil {
			return nil, err
		}
		path = append(path, f)
		p.skipSpace()
		if !p.consume(".") {
			return path, nil
		}
	}
}

func (p *parser) field() (string, error) {
	p.skipSpace()
	if p.peek() == '"' {
		return p.quoted()
	}
	start := p.pos
	for p.pos < len(p.in) && isFieldByte(p.in[p.pos]) {
		p.pos++
	}
	if p.pos == start {
		return "", p.errorf("expected a field name or a quoted string")
	}
	return p.in[start:p.pos], nil
}

var operators = map[string]operator{"==": opEqual, "!=": opNotEqual, "~=": opMatches}

// operator reads one of the operators; one followed by another operator
// character (e.g. "===") is refused rather than read as part of the value.
func (p *parser) operator() (operator, error) {
	if p.pos+2 <= len(p.in) {
		op, ok := operators[p.in[p.pos:p.pos+2]]
		if ok && (p.pos+2 == len(p.in) || !strings.ContainsRune("=!~", rune(p.in[p.pos+2]))) {
			p.pos += 2
			return op, nil
		}
	}
	return 0, p.errorf(`expected an operator ("==", "!=" or "~=")`)
}

func (p *parser) value(altQuotes bool) (string, error) {
	switch c := p.peek(); {
	case c == '"':
		return p.quoted()
	case altQuotes && (c == '/' || c == '|'):
		return p.altQuoted(c)
	}
	start := p.pos
	for p.pos < len(p.in) {
		r, w := utf8.DecodeRuneInString(p.in[p.pos:])
		if r == ',' || unicode.IsSpace(r) {
			break
		}
		p.pos += w
	}
	if p.pos == start {
		return "", p.errorf("expected a value")
	}
	return p.in[start:p.pos], nil
}

// quoted reads a Go double-quoted string starting at p.pos.
func (p *parser) quoted() (string, error) {
	end := p.closing('"')
	if end < 0 {
		return "", p.errorf("unterminated quoted string")
	}
	s, err := strconv.Unquote(p.in[p.pos : end+1])
	if err != nil {
		return "", p.errorf("invalid quoted string %s: %v", p.in[p.pos:end+1], err)
	}
	p.pos = end + 1
	return s, nil
}

// altQuoted reads a regular expression delimited by delim (/re/ or |re|);
// only an escaped delimiter is unescaped, other escapes are the regexp's.
func (p *parser) altQuoted(delim byte) (string, error) {
	end := p.closing(delim)
	if end < 0 {
		return "", p.errorf("unterminated %c-quoted string", delim)
	}
	s := strings.ReplaceAll(p.in[p.pos+1:end], `\`+string(delim), string(delim))
	p.pos = end + 1
	return s, nil
}

// closing returns the index of the unescaped delim closing the quoted
// string that starts at p.pos, or -1.
func (p *parser) closing(delim byte) int {
	for i := p.pos + 1; i < len(p.in); i++ {
		switch p.in[i] {
		case '\\':
			i++
		case delim:
			return i
		}
	}
	return -1
}

func (p *parser) skipSpace() {
	for p.pos < len(p.in) {
		r, w := utf8.DecodeRuneInString(p.in[p.pos:])
		if !unicode.IsSpace(r) {
			return
		}
		p.pos += w
	}
}

func (p *parser) eof() bool { return p.pos >= len(p.in) }

func (p *parser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.in[p.pos]
}

func (p *parser) consume(s string) bool {
	if strings.HasPrefix(p.in[p.pos:], s) {
		p.pos += len(s)
		return true
	}
	return false
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid filter %q at offset %d: %s: %w",
		p.in, p.pos, fmt.Sprintf(format, args...), errdefs.ErrInvalidArgument)
}

func isFieldByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
