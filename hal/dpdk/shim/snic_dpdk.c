/*
 * snic_dpdk: the thin C side of SnicRuntime's DPDK driver. DPDK's burst API is static inline
 * (rte_eth_rx_burst calls through the port's function table), so C# cannot call it directly;
 * this shim exports one function per *burst*, never per packet. Frames cross between an mbuf
 * and the runtime's own packet buffers with one copy each way, done here in C, so the managed
 * side makes one call per burst and never touches an rte_mbuf.
 *
 * Built by hal/dpdk/shim/build.sh against the system's libdpdk (pkg-config); when libdpdk is
 * absent the rest of SnicRuntime builds and the driver says so at start.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#define SNIC_MAX_PORTS 64

static struct rte_mempool *pools[SNIC_MAX_PORTS];

static void say(char *err, int len, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || len <= 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, (size_t)len, fmt, ap);
    va_end(ap);
}

/* rte_eal_init with the board's EAL arguments; 0 or -1 with the reason in err. */
int snic_dpdk_init(int argc, char **argv, char *err, int errlen)
{
    int ret = rte_eal_init(argc, argv);
    if (ret < 0) {
        say(err, errlen, "rte_eal_init: %s", rte_strerror(rte_errno));
        return -1;
    }
    return 0;
}

int snic_dpdk_port_count(void) { return (int)rte_eth_dev_count_avail(); }

/* The port id of a device name (a vdev name such as net_memif0, or a PCI address), or -1. */
int snic_dpdk_port_by_name(const char *name)
{
    uint16_t id;
    if (rte_eth_dev_get_port_by_name(name, &id) != 0)
        return -1;
    return id;
}

/* Configures and starts a port: one rx and one tx queue per worker, its own mbuf pool. */
int snic_dpdk_port_start(uint16_t port, uint16_t queues, uint16_t rx_depth, uint16_t tx_depth, uint32_t mbufs,
                         char *err, int errlen)
{
    struct rte_eth_conf conf;
    struct rte_eth_dev_info info;
    char name[RTE_MEMPOOL_NAMESIZE];
    int ret;
    if (port >= SNIC_MAX_PORTS || !rte_eth_dev_is_valid_port(port)) {
        say(err, errlen, "port %u does not exist", port);
        return -1;
    }
    ret = rte_eth_dev_info_get(port, &info);
    if (ret != 0) {
        say(err, errlen, "rte_eth_dev_info_get: %s", rte_strerror(-ret));
        return -1;
    }
    if (queues > info.max_rx_queues || queues > info.max_tx_queues) {
        say(err, errlen, "port %u (%s) has %u rx / %u tx queues, %u asked", port, info.driver_name,
            info.max_rx_queues, info.max_tx_queues, queues);
        return -1;
    }
    if (pools[port] == NULL) {
        snprintf(name, sizeof name, "snic_mbufs_%u", port);
        pools[port] = rte_pktmbuf_pool_create(name, mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
        if (pools[port] == NULL) {
            say(err, errlen, "rte_pktmbuf_pool_create(%u mbufs): %s", mbufs, rte_strerror(rte_errno));
            return -1;
        }
    }
    memset(&conf, 0, sizeof conf);
    ret = rte_eth_dev_configure(port, queues, queues, &conf);
    if (ret != 0) {
        say(err, errlen, "rte_eth_dev_configure: %s", rte_strerror(-ret));
        return -1;
    }
    for (uint16_t q = 0; q < queues; q++) {
        ret = rte_eth_rx_queue_setup(port, q, rx_depth, (unsigned)rte_eth_dev_socket_id(port), NULL, pools[port]);
        if (ret != 0) {
            say(err, errlen, "rte_eth_rx_queue_setup(%u): %s", q, rte_strerror(-ret));
            return -1;
        }
        ret = rte_eth_tx_queue_setup(port, q, tx_depth, (unsigned)rte_eth_dev_socket_id(port), NULL);
        if (ret != 0) {
            say(err, errlen, "rte_eth_tx_queue_setup(%u): %s", q, rte_strerror(-ret));
            return -1;
        }
    }
    ret = rte_eth_dev_start(port);
    if (ret != 0) {
        say(err, errlen, "rte_eth_dev_start: %s", rte_strerror(-ret));
        return -1;
    }
    rte_eth_promiscuous_enable(port); /* not every PMD has it; a refusal is not an error */
    return 0;
}

/*
 * Receives up to n frames into the caller's buffers (dst[i], room bytes each; a longer frame is
 * cut to room and counted in *truncated). Returns the number received; lens[i] their lengths.
 */
uint16_t snic_dpdk_rx(uint16_t port, uint16_t queue, uint8_t **dst, uint16_t *lens, uint16_t n, uint16_t room,
                      uint64_t *truncated)
{
    struct rte_mbuf *m[64];
    if (n > 64)
        n = 64;
    uint16_t got = rte_eth_rx_burst(port, queue, m, n);
    for (uint16_t i = 0; i < got; i++) {
        uint32_t len = rte_pktmbuf_pkt_len(m[i]);
        if (len > room) {
            len = room;
            (*truncated)++;
        }
        const void *data = rte_pktmbuf_read(m[i], 0, len, dst[i]);
        if (data != dst[i])
            memcpy(dst[i], data, len);
        lens[i] = (uint16_t)len;
    }
    rte_pktmbuf_free_bulk(m, got);
    return got;
}

/* Sends n frames from the caller's buffers; returns how many the port took (the rest stay the caller's). */
uint16_t snic_dpdk_tx(uint16_t port, uint16_t queue, uint8_t **src, const uint16_t *lens, uint16_t n)
{
    struct rte_mbuf *m[64];
    if (n > 64)
        n = 64;
    if (rte_pktmbuf_alloc_bulk(pools[port], m, n) != 0)
        return 0;
    for (uint16_t i = 0; i < n; i++) {
        char *p = rte_pktmbuf_append(m[i], lens[i]);
        if (p == NULL) {
            rte_pktmbuf_free_bulk(m, n);
            return 0;
        }
        memcpy(p, src[i], lens[i]);
    }
    uint16_t sent = rte_eth_tx_burst(port, queue, m, n);
    if (sent < n)
        rte_pktmbuf_free_bulk(&m[sent], n - sent);
    return sent;
}

/* 1 up, 0 down, -1 unknown. */
int snic_dpdk_link_up(uint16_t port)
{
    struct rte_eth_link link;
    if (rte_eth_link_get_nowait(port, &link) != 0)
        return -1;
    return link.link_status == RTE_ETH_LINK_UP ? 1 : 0;
}

int snic_dpdk_set_link(uint16_t port, int up)
{
    return up ? rte_eth_dev_set_link_up(port) : rte_eth_dev_set_link_down(port);
}

/* ipackets, opackets, ibytes, obytes, imissed, ierrors, oerrors, rx_nombuf */
int snic_dpdk_stats(uint16_t port, uint64_t *out)
{
    struct rte_eth_stats s;
    if (rte_eth_stats_get(port, &s) != 0)
        return -1;
    out[0] = s.ipackets;
    out[1] = s.opackets;
    out[2] = s.ibytes;
    out[3] = s.obytes;
    out[4] = s.imissed;
    out[5] = s.ierrors;
    out[6] = s.oerrors;
    out[7] = s.rx_nombuf;
    return 0;
}

/* rx queue depth (descriptors filled), or -1 when the PMD cannot tell. */
int snic_dpdk_rx_depth(uint16_t port, uint16_t queue)
{
    int n = rte_eth_rx_queue_count(port, queue);
    return n < 0 ? -1 : n;
}

void snic_dpdk_port_stop(uint16_t port)
{
    rte_eth_dev_stop(port);
}

int snic_dpdk_cleanup(void) { return rte_eal_cleanup(); }
