module github.com/changedblocks/sdk

go 1.26.0

require (
	github.com/klauspost/compress v1.20.5
	github.com/oracle/oci-go-sdk/v65 v65.129.0
	github.com/stretchr/testify v1.12.1
	github.com/vmware/govmomi v0.56.0
	golang.org/x/sys v0.50.0
	libvirt.org/go/libvirt v1.11006.0
)

require (
	github.com/gofrs/flock v0.10.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/sony/gobreaker/v2 v2.4.0 // indirect
	github.com/youmark/pkcs8 v0.0.0-20240726163527-a2c0da244d78 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/crypto v0.56.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
