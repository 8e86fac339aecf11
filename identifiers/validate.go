// Package identifiers validates the ids and namespace names the coordinator
// accepts, with containerd's rules: 1 to 76 characters, alphanumeric runs
// separated by single '.', '_' or '-'. A valid identifier is always safe to
// use as one file system path component.
package identifiers

import (
	"fmt"
	"regexp"

	"github.com/seedrt/seed/errdefs"
)

// MaxLength is the maximum length of an identifier, in bytes.
const MaxLength = 76

var identifierRe = regexp.MustCompile(`^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$`)

// Validate returns nil if s is a valid identifier, else an error wrapping
// errdefs.ErrInvalidArgument.
func Validate(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("identifier must not be empty: %w", errdefs.ErrInvalidArgument)
	case len(s) > MaxLength:
		return fmt.Errorf("identifier %q greater than maximum length (%d characters): %w",
			s, MaxLength, errdefs.ErrInvalidArgument)
	case !identifierRe.MatchString(s):
		return fmt.Errorf("identifier %q must match %v: %w", s, identifierRe, errdefs.ErrInvalidArgument)
	}
	return nil
}
