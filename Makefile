# Build helpers. Each target is independent; add new ones below.

.PHONY: protos
# Regenerate the Go code for shimapi/**/*.proto and api/**/*.proto
# (needs protoc; installs the gogo/ttrpc protoc plugins if missing).
protos:
	./hack/protos.sh
