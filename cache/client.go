package cache

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Topology names what NewRedisClient found behind the addresses.
type Topology string

const (
	Single   Topology = "single"
	Cluster  Topology = "cluster"
	Sentinel Topology = "sentinel"
	// Unknown: no address answered at start; the client is chosen by the
	// number of addresses and reads will tell if that was wrong.
	Unknown Topology = "unknown"
)

// NewRedisClient returns the client for opt.Addrs as the servers are, not
// as they are counted: with a MasterName they are Sentinels; else the
// first that answers says whether it is a Cluster node (INFO cluster), so
// that one node's address reaches the whole Cluster and several plain
// servers are refused rather than taken for one.
func NewRedisClient(ctx context.Context, opt *redis.UniversalOptions) (redis.UniversalClient, Topology, error) {
	if opt.MasterName != "" {
		return redis.NewFailoverClient(opt.Failover()), Sentinel, nil
	}
	for _, addr := range opt.Addrs {
		cluster, err := isClusterNode(ctx, opt, addr)
		if err != nil {
			continue
		}
		if cluster {
			return redis.NewClusterClient(opt.Cluster()), Cluster, nil
		}
		if len(opt.Addrs) > 1 {
			return nil, Single, fmt.Errorf("redis.addr lists %d addresses, but %s is not a Cluster node; list one address, or set redis.master_name for Sentinels", len(opt.Addrs), addr)
		}
		return redis.NewClient(opt.Simple()), Single, nil
	}
	if len(opt.Addrs) > 1 {
		return redis.NewClusterClient(opt.Cluster()), Unknown, nil
	}
	return redis.NewClient(opt.Simple()), Unknown, nil
}

func isClusterNode(ctx context.Context, opt *redis.UniversalOptions, addr string) (bool, error) {
	one := *opt
	one.Addrs = []string{addr}
	rdb := redis.NewClient(one.Simple())
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(ctx, max(opt.DialTimeout, time.Second))
	defer cancel()
	info, err := rdb.Info(ctx, "cluster").Result()
	if err != nil {
		return false, err
	}
	return strings.Contains(info, "cluster_enabled:1"), nil
}
