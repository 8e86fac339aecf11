// Package filters parses and evaluates the filters of containerd's API: the
// list filters of containers, leases, namespaces and introspection, e.g.
// `id==c1`, `labels."app.kind"==web,runtime.name~=runc`, and the event
// subscription filters, e.g. `namespace==default,topic~="^/tasks/"`.
//
// A filter string is a comma-separated list of selectors, all of which must
// match (an AND); a request's list of filter strings matches an object if
// any of them does (an OR). A selector is a field path, optionally followed
// by an operator and a value:
//
//	selector  := fieldpath [ operator value ]
//	fieldpath := field ( "." field )*
//	field     := quoted | [A-Za-z0-9_]+
//	operator  := "==" | "!=" | "~="
//	value     := quoted | any characters but ',' and white space
//	quoted    := a Go double-quoted string; for "~=" also /re/ or |re|
//
// Without an operator the selector tests that the field is present. As in
// containerd, "!=" and "~=" compare the field's value even when the field is
// absent (as ""), and "==" requires the field to be present. A "~=" regexp
// is unanchored. A filter must be valid UTF-8.
//
// What a field path means is up to the caller, through a Fields function.
package filters

import (
	"regexp"
	"strings"
)

// Fields returns the value of the object being filtered at a field path
// (never empty), and whether the object has that field.
type Fields func(path []string) (value string, present bool)

// Filter is a parsed list of filter strings. The zero Filter, and a nil
// *Filter, match everything.
type Filter struct {
	alternatives [][]selector // OR of ANDs; nil means match all
}

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
	re    *regexp.Regexp // for opMatches
}

// Parse parses filter strings. No strings, or an empty string among them,
// match everything. An invalid filter fails with an error wrapping
// errdefs.ErrInvalidArgument.
func Parse(filters ...string) (*Filter, error) {
	f := &Filter{}
	everything := false
	for _, s := range filters {
		if strings.TrimSpace(s) == "" {
			everything = true
			continue
		}
		sels, err := parse(s)
		if err != nil {
			return nil, err
		}
		f.alternatives = append(f.alternatives, sels)
	}
	if everything {
		return &Filter{}, nil
	}
	return f, nil
}

// Match reports whether the object described by fields matches f.
func (f *Filter) Match(fields Fields) bool {
	if f == nil || len(f.alternatives) == 0 {
		return true
	}
	for _, sels := range f.alternatives {
		if matchAll(sels, fields) {
			return true
		}
	}
	return false
}

func matchAll(sels []selector, fields Fields) bool {
	for _, s := range sels {
		if !s.match(fields) {
			return false
		}
	}
	return true
}

func (s selector) match(fields Fields) bool {
	value, present := fields(s.path)
	switch s.op {
	case opPresent:
		return present
	case opEqual:
		return present && value == s.value
	case opNotEqual:
		return value != s.value
	case opMatches:
		return s.re.MatchString(value)
	}
	return false
}

// Label is the Fields lookup of a map of labels: path is what follows
// "labels" in a field path, joined with "." to form the key, so that
// `labels.a.b` and `labels."a.b"` both name label "a.b".
func Label(path []string, labels map[string]string) (string, bool) {
	if len(path) == 0 {
		return "", false
	}
	v, ok := labels[strings.Join(path, ".")]
	return v, ok
}
