package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/rhv/internal/httpc"
)

// LoginSSO gets an access token from the engine's SSO service
// (POST /ovirt-engine/sso/oauth/token, grant_type=password,
// scope=ovirt-app-api) and uses it for every later request instead of basic
// authentication.
//
// Errors: cbt.ErrInvalidArgument (the SSO service refused the credentials),
// cbt.ErrBusy (5xx or a transport failure), cbt.ErrCorrupt (an answer without
// a token).
func (c *Client) LoginSSO(ctx context.Context, username, password string) error {
	u := *c.api
	u.Path = strings.TrimSuffix(u.Path, "/api") + "/sso/oauth/token"
	form := url.Values{"grant_type": {"password"}, "scope": {"ovirt-app-api"},
		"username": {username}, "password": {password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("%w: rhv: SSO: %v", cbt.ErrInvalidArgument, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, _, err := c.http.Send(ctx, req, "POST /sso/oauth/token")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("%w: rhv: SSO: reading the answer: %w", cbt.ErrBusy, err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &tok)
	switch {
	case tok.Error != "" || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusBadRequest:
		herr := &HTTPError{Status: resp.StatusCode, Method: http.MethodPost, Path: "/ovirt-engine/sso/oauth/token",
			Reason: httpc.OneLine([]byte(tok.Error)), Detail: httpc.OneLine([]byte(tok.Description))}
		return fmt.Errorf("%w: rhv: SSO login of %q: %w (check the user name, its profile suffix such as @internal, and the password)",
			cbt.ErrInvalidArgument, username, herr)
	case resp.StatusCode >= 500:
		return fmt.Errorf("%w: rhv: SSO: %w", cbt.ErrBusy, &HTTPError{Status: resp.StatusCode, Method: http.MethodPost, Path: "/ovirt-engine/sso/oauth/token", Message: httpc.OneLine(body)})
	case resp.StatusCode != http.StatusOK || tok.AccessToken == "":
		return fmt.Errorf("%w: rhv: SSO answered HTTP %d without an access token", cbt.ErrCorrupt, resp.StatusCode)
	}
	c.mu.Lock()
	c.token = tok.AccessToken
	c.mu.Unlock()
	return nil
}
