package storage

import (
	"errors"
	"fmt"
	"sync"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/aliyun/credentials-go/credentials/providers"
)

// OSSCredentials returns the credentials provider of kind, for a server
// that keeps no access key in its configuration:
//
//   - "env": OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET and, for temporary
//     credentials, OSS_SESSION_TOKEN, read once at start (the SDK's own
//     provider);
//   - "ecs_ram_role": the RAM role of the ECS instance, from its metadata
//     service, refreshed before it expires (Alibaba Cloud's credentials-go);
//     role may be empty, and the metadata service names it.
func OSSCredentials(kind, role string) (oss.CredentialsProvider, error) {
	switch kind {
	case "env":
		p, err := oss.NewEnvironmentVariableCredentialsProvider()
		if err != nil {
			return nil, fmt.Errorf("oss credentials from the environment: %w", err)
		}
		return &p, nil
	case "ecs_ram_role":
		return ramRoleProvider(role, "")
	default:
		return nil, fmt.Errorf("oss credentials: unknown kind %q", kind)
	}
}

// ramRoleProvider reaches the metadata service through proxy when it is
// not empty (the tests' fake metadata service).
func ramRoleProvider(role, proxy string) (*ramRole, error) {
	b := providers.NewECSRAMRoleCredentialsProviderBuilder().WithRoleName(role)
	if proxy != "" {
		b = b.WithHttpOptions(&providers.HttpOptions{Proxy: proxy})
	}
	p, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("oss credentials from the ECS RAM role: %w", err)
	}
	return &ramRole{p: p}, nil
}

// ramRole adapts the credentials-go provider to the OSS SDK, which asks
// for credentials on every request and every signed URL. The provider
// itself refreshes them 3 minutes before they expire, but is not safe for
// concurrent use.
type ramRole struct {
	mu sync.Mutex
	p  *providers.ECSRAMRoleCredentialsProvider
}

// keyTriple is one set of credentials as the SDK reads them.
type keyTriple struct{ id, secret, token string }

func (c keyTriple) GetAccessKeyID() string     { return c.id }
func (c keyTriple) GetAccessKeySecret() string { return c.secret }
func (c keyTriple) GetSecurityToken() string   { return c.token }

// GetCredentialsE is what the SDK calls: a failure fails the request.
func (r *ramRole) GetCredentialsE() (oss.Credentials, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.p.GetCredentials()
	if err != nil {
		return nil, fmt.Errorf("oss credentials from the ECS RAM role: %w", err)
	}
	if c.AccessKeyId == "" || c.AccessKeySecret == "" {
		return nil, errors.New("oss credentials from the ECS RAM role: the metadata service gave an empty key")
	}
	return keyTriple{c.AccessKeyId, c.AccessKeySecret, c.SecurityToken}, nil
}

// GetCredentials is the SDK's older interface; it has no error to return,
// and the SDK prefers GetCredentialsE wherever it signs.
func (r *ramRole) GetCredentials() oss.Credentials {
	c, err := r.GetCredentialsE()
	if err != nil {
		return keyTriple{}
	}
	return c
}
