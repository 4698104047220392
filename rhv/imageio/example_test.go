package imageio_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/changedblocks/sdk/rhv/imageio"
)

// What a ticket offers, and which areas of its image hold data. The server
// here is an httptest server answering as ovirt-imageio documents it; a real
// transfer URL comes from the engine (package rhv/engine), and a real server
// needs the engine CA in imageio.Options.RootCAs.
func ExampleClient_Extents() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodOptions && r.URL.Path == "/images/3a5fe2b1-ticket":
			w.Header().Set("Allow", "OPTIONS,GET")
			fmt.Fprint(w, `{"features": ["checksum", "extents"], "max_readers": 8, "max_writers": 8}`)
		case r.URL.Path == "/images/3a5fe2b1-ticket/extents" && r.URL.Query().Get("context") == "zero":
			fmt.Fprint(w, `[{"start": 0, "length": 65536, "zero": false, "hole": false},
				{"start": 65536, "length": 983040, "zero": true, "hole": true}]`)
		default:
			http.Error(w, "Ticket does not support dirty extents", http.StatusNotFound)
		}
	}))
	defer srv.Close()

	ctx := context.Background()
	c, err := imageio.New(srv.URL+"/images/3a5fe2b1-ticket", nil)
	if err != nil {
		log.Fatal(err)
	}
	opts, err := c.Options(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("extents:", opts.Has("extents"), "readers:", opts.MaxReaders)
	exts, err := c.Extents(ctx, imageio.ContextZero)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range exts {
		if !e.Zero {
			fmt.Printf("data: %d bytes at %d\n", e.Length, e.Start)
		}
	}
	// Output:
	// extents: true readers: 8
	// data: 65536 bytes at 0
}
