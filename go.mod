module github.com/changedblocks/sdk

go 1.26

require (
	github.com/stretchr/testify v1.12.1
	github.com/vmware/govmomi v0.56.0
)

require (
	github.com/google/uuid v1.6.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
