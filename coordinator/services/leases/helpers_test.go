package leases

import (
	"testing"

	"google.golang.org/grpc"

	api "github.com/seedrt/seed/api/services/leases/v1"
	"github.com/seedrt/seed/coordinator/metadata"
	"github.com/seedrt/seed/coordinator/services/servicetest"
)

var wantCode = servicetest.WantCode

type env struct {
	db     *metadata.DB
	client api.LeasesClient
}

// newEnv serves the leases service over a new store and dials it.
func newEnv(t *testing.T) *env {
	t.Helper()
	db, conn := servicetest.Serve(t, func(s *grpc.Server, db *metadata.DB) error {
		return Register(s, Options{DB: db})
	})
	return &env{db: db, client: api.NewLeasesClient(conn)}
}
