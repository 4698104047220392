package oci

import (
	"fmt"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/core"

	"github.com/changedblocks/sdk/cbt"
)

// Clients are the OCI API clients this package calls: Block Storage for the
// backups and the delta volume, Compute for the attachment.
type Clients struct {
	Blockstorage *core.BlockstorageClient
	Compute      *core.ComputeClient
}

// NewClients makes both clients from one configuration provider, such as
// common.DefaultConfigProvider() (the file $OCI_CONFIG_FILE or ~/.oci/config,
// then the TF_VAR_* environment variables) or an instance principal provider. The clients'
// own retry policies are left unset: this package passes one with every
// request.
//
// Errors: cbt.ErrInvalidArgument when the configuration is incomplete or its
// key cannot be read.
func NewClients(cp common.ConfigurationProvider) (*Clients, error) {
	if cp == nil {
		return nil, fmt.Errorf("%w: oci: nil configuration provider", cbt.ErrInvalidArgument)
	}
	if ok, err := common.IsConfigurationProviderValid(cp); !ok {
		return nil, fmt.Errorf("%w: oci: the OCI configuration is not usable (check ~/.oci/config, $OCI_CONFIG_FILE or the TF_VAR_* variables): %w", cbt.ErrInvalidArgument, err)
	}
	bs, err := core.NewBlockstorageClientWithConfigurationProvider(cp)
	if err != nil {
		return nil, fmt.Errorf("%w: oci: block storage client: %w", cbt.ErrInvalidArgument, err)
	}
	cc, err := core.NewComputeClientWithConfigurationProvider(cp)
	if err != nil {
		return nil, fmt.Errorf("%w: oci: compute client: %w", cbt.ErrInvalidArgument, err)
	}
	return &Clients{Blockstorage: &bs, Compute: &cc}, nil
}

func (c *Clients) check() error {
	if c == nil || c.Blockstorage == nil || c.Compute == nil {
		return fmt.Errorf("%w: oci: Clients needs both a Blockstorage and a Compute client (see NewClients)", cbt.ErrInvalidArgument)
	}
	return nil
}
