module github.com/seedrt/seed

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/containerd/console v1.0.5
	github.com/containerd/fifo v1.1.0
	github.com/containerd/go-runc v1.2.1
	github.com/containerd/ttrpc v1.1.2
	github.com/gogo/protobuf v1.3.2
	github.com/opencontainers/runtime-spec v1.3.0
	go.etcd.io/bbolt v1.5.0
	golang.org/x/sys v0.49.0
	google.golang.org/grpc v1.47.0
)

require (
	github.com/golang/protobuf v1.5.2 // indirect
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/sirupsen/logrus v1.8.1 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	google.golang.org/genproto v0.0.0-20200526211855-cb27e3aa2013 // indirect
)

// ttrpc v1.1 decodes its Response (which embeds google.rpc.Status) with
// gogo/protobuf, which panics on the protobuf-go v2 Status of newer genproto
// ("protobuf tag not enough fields in Status.state") the first time a call
// returns an error. containerd 1.6 pins the same pre-v2 genproto, and so the
// grpc line that still builds with it.
replace google.golang.org/genproto => google.golang.org/genproto v0.0.0-20200224152610-e50cd9704f63

// The shim links grpc only for ttrpc's status errors, and grpc >= 1.31
// brings golang/protobuf 1.4+, which is google.golang.org/protobuf underneath:
// its registries and descriptors cost every shim ~475 KiB of private memory
// and ~1 ms of start-up. grpc 1.30 with golang/protobuf 1.3.5 (what
// containerd 1.4 shipped with) links none of it. ttrpc 1.1.2 declares a newer
// golang/protobuf, hence replace rather than require.
replace github.com/golang/protobuf => github.com/golang/protobuf v1.3.5

replace google.golang.org/grpc => google.golang.org/grpc v1.30.0
