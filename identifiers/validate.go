// Package identifiers validates the ids and namespace names the coordinator
// accepts, with containerd's rules: 1 to 76 characters, alphanumeric runs
// separated by single '.', '_' or '-'. A valid identifier is always safe to
// use as one file system path component.
package identifiers

import (
	"fmt"

	"github.com/seedrt/seed/errdefs"
)

// MaxLength is the maximum length of an identifier, in bytes.
const MaxLength = 76

// pattern is the rule wellFormed checks, for error messages.
const pattern = `^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$`

// Validate returns nil if s is a valid identifier, else an error wrapping
// errdefs.ErrInvalidArgument.
func Validate(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("identifier must not be empty: %w", errdefs.ErrInvalidArgument)
	case len(s) > MaxLength:
		return fmt.Errorf("identifier %q greater than maximum length (%d characters): %w",
			s, MaxLength, errdefs.ErrInvalidArgument)
	case !wellFormed(s):
		return fmt.Errorf("identifier %q must match %v: %w", s, pattern, errdefs.ErrInvalidArgument)
	}
	return nil
}

// wellFormed tells whether s is alphanumeric runs separated by single '.',
// '_' or '-'. A loop, not a regexp: every shim validates ids, and compiling
// the regexp at start-up cost each shim more than all its checks.
func wellFormed(s string) bool {
	prevSep := true // s must not start with a separator
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			prevSep = false
		case c == '.' || c == '_' || c == '-':
			if prevSep {
				return false
			}
			prevSep = true
		default:
			return false
		}
	}
	return !prevSep
}
