package events

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/seedrt/seed/errdefs"
)

// Filters use containerd's filter syntax. A filter is a comma-separated
// list of selectors that must all match; an event matches a list of
// filters when it matches any of them. A selector is
//
//	fieldpath                   the field is present (non-empty)
//	fieldpath==value            equal
//	fieldpath!=value            not equal (also true when absent)
//	fieldpath~=regexp           the regexp matches (unanchored)
//
// where fieldpath is dot-separated names ([A-Za-z0-9_]+ or "quoted"), e.g.
// topic, namespace, event.container_id, event.labels."a b". A value is
// unquoted (up to the next ',' or space) or a Go "quoted" string; a regexp
// may also be delimited by /.../ or |...|. The empty filter matches all.
//
// Examples: topic=="/tasks/exit"   namespace==default,topic~="^/tasks/"

type operator int

const (
	opPresent operator = iota
	opEqual
	opNotEqual
	opMatches
)

type selector struct {
	path  []string
	op    operator
	value string
	re    *regexp.Regexp
}

func (s *selector) match(e *Envelope) bool {
	v, ok := e.field(s.path)
	switch s.op {
	case opPresent:
		return ok
	case opEqual:
		return ok && v == s.value
	case opNotEqual:
		return v != s.value
	case opMatches:
		return s.re.MatchString(v)
	}
	return false
}

// filter is a disjunction of conjunctions of selectors. The nil filter
// matches everything.
type filter [][]selector

func (f filter) match(e *Envelope) bool {
	if f == nil {
		return true
	}
	for _, all := range f {
		if matchAll(all, e) {
			return true
		}
	}
	return false
}

func matchAll(sels []selector, e *Envelope) bool {
	for i := range sels {
		if !sels[i].match(e) {
			return false
		}
	}
	return true
}

// parseFilters parses each of ss; errors wrap errdefs.ErrInvalidArgument.
func parseFilters(ss []string) (filter, error) {
	var (
		f        filter
		matchAny = len(ss) == 0
	)
	for _, s := range ss {
		if s == "" {
			matchAny = true
			continue
		}
		sels, err := parseFilter(s)
		if err != nil {
			return nil, err
		}
		f = append(f, sels)
	}
	if matchAny {
		return nil, nil
	}
	return f, nil
}

type parser struct {
	in  string
	pos int
}

func parseFilter(s string) ([]selector, error) {
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
		if p.peek() != ',' {
			return nil, p.errorf("expected ',' or end of filter")
		}
		p.pos++
	}
}

func (p *parser) selector() (selector, error) {
	var sel selector
	for {
		p.skipSpace()
		f, err := p.field()
		if err != nil {
			return sel, err
		}
		sel.path = append(sel.path, f)
		p.skipSpace()
		if p.peek() != '.' {
			break
		}
		p.pos++
	}
	if p.eof() || p.peek() == ',' {
		sel.op = opPresent
		return sel, nil
	}
	op, err := p.operator()
	if err != nil {
		return sel, err
	}
	p.skipSpace()
	start := p.pos
	v, err := p.value(op)
	if err != nil {
		return sel, err
	}
	sel.op, sel.value = op, v
	if op == opMatches {
		if sel.re, err = regexp.Compile(v); err != nil {
			p.pos = start
			return sel, p.errorf("bad regexp: %v", err)
		}
	}
	return sel, nil
}

func (p *parser) field() (string, error) {
	if p.peek() == '"' {
		return p.quoted('"')
	}
	start := p.pos
	for !p.eof() && isFieldByte(p.in[p.pos]) {
		p.pos++
	}
	if p.pos == start {
		return "", p.errorf("expected a field name")
	}
	return p.in[start:p.pos], nil
}

var operators = map[string]operator{"==": opEqual, "!=": opNotEqual, "~=": opMatches}

func (p *parser) operator() (operator, error) {
	if p.pos+2 <= len(p.in) {
		if op, ok := operators[p.in[p.pos:p.pos+2]]; ok && !strings.ContainsRune("=!~", rune(p.peekAt(2))) {
			p.pos += 2
			return op, nil
		}
	}
	return 0, p.errorf(`expected an operator ("==", "!=" or "~=")`)
}

func (p *parser) value(op operator) (string, error) {
	switch c := p.peek(); {
	case c == '"':
		return p.quoted('"')
	case op == opMatches && (c == '/' || c == '|'):
		return p.quoted(c)
	}
	start := p.pos
	for !p.eof() && p.in[p.pos] != ',' && !isSpace(p.in[p.pos]) {
		p.pos++
	}
	if p.pos == start {
		return "", p.errorf("expected a value")
	}
	return p.in[start:p.pos], nil
}

// quoted consumes a string delimited by q. With '"' it is a Go string
// literal; with '/' or '|' only \q is an escape, other backslashes are kept
// for the regexp.
func (p *parser) quoted(q byte) (string, error) {
	start := p.pos
	for p.pos++; ; p.pos++ {
		if p.eof() || p.in[p.pos] == '\n' {
			p.pos = start
			return "", p.errorf("unterminated quoted string")
		}
		switch p.in[p.pos] {
		case '\\':
			p.pos++
		case q:
			p.pos++
			lit := p.in[start:p.pos]
			if q != '"' {
				body := lit[1 : len(lit)-1]
				return strings.ReplaceAll(body, `\`+string(q), string(q)), nil
			}
			s, err := strconv.Unquote(lit)
			if err != nil {
				p.pos = start
				return "", p.errorf("bad quoted string %s", lit)
			}
			return s, nil
		}
	}
}

func (p *parser) eof() bool { return p.pos >= len(p.in) }

func (p *parser) peek() byte { return p.peekAt(0) }

func (p *parser) peekAt(n int) byte {
	if p.pos+n >= len(p.in) {
		return 0
	}
	return p.in[p.pos+n]
}

func (p *parser) skipSpace() {
	for !p.eof() && isSpace(p.in[p.pos]) {
		p.pos++
	}
}

func (p *parser) errorf(format string, args ...interface{}) error {
	return fmt.Errorf("invalid filter %q at offset %d: %s: %w",
		p.in, p.pos, fmt.Sprintf(format, args...), errdefs.ErrInvalidArgument)
}

func isFieldByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
