package shim

import "github.com/seedrt/seed/shimapi/types"

func toMounts(ms []*types.Mount) []Mount {
	out := make([]Mount, 0, len(ms))
	for _, m := range ms {
		out = append(out, Mount{Type: m.Type, Source: m.Source, Options: m.Options})
	}
	return out
}
