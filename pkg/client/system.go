package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gofaas/gofaas/pkg/api"
)

// ErrWrongCredentials is returned by Login when the gateway refuses the user
// and password.
var ErrWrongCredentials = errors.New("wrong user or password")

// Info returns the gateway's and provider's versions: GET /system/info.
func (c *Client) Info(ctx context.Context) (api.GatewayInfo, error) {
	var info api.GatewayInfo
	_, err := c.do(ctx, call{method: http.MethodGet, path: api.PathInfo}, &info, http.StatusOK)
	return info, err
}

// Login checks user and password as `faas-cli login` does: GET
// /system/functions with them as basic auth, whatever credentials the
// client holds. 200 means they are right; 401 gives ErrWrongCredentials.
func (c *Client) Login(ctx context.Context, user, password string) error {
	checker := *c
	checker.token, checker.user, checker.password = "", user, password
	_, err := checker.do(ctx, call{method: http.MethodGet, path: api.PathFunctions}, nil, http.StatusOK)
	if errors.Is(err, ErrUnauthorized) {
		return fmt.Errorf("%w for %s", ErrWrongCredentials, c.Gateway())
	}
	return err
}
