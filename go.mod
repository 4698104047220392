module github.com/changedblocks/sdk

go 1.26.0

require (
	github.com/stretchr/testify v1.12.1
	github.com/vmware/govmomi v0.56.0
)

require (
	github.com/google/uuid v1.6.0 // indirect
	github.com/oracle/oci-go-sdk/v65 v65.129.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.50.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
	libvirt.org/go/libvirt v1.11006.0 // indirect
)
