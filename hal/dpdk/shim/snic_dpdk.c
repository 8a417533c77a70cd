/*
 * snic_dpdk: the thin C side of SnicRuntime's DPDK driver. DPDK's burst API is static inline
 * (rte_eth_rx_burst calls through the port's function table), so C# cannot call it directly;
 * this shim exports one function per *burst*, never per packet.
 *
 * Zero copy: the runtime's packet buffers *are* mbufs. The pool is an mbuf pool whose private
 * area (priv_size = 64) holds the runtime's PacketHeader, so the header sits right after the
 * rte_mbuf and right before the mbuf's data buffer — exactly the layout a PacketRef expects
 * (hal/core/PacketHeader.cs: header, then headroom, then data). A received mbuf becomes a
 * PacketRef by pointer arithmetic, and a PacketRef becomes an mbuf again the same way on
 * transmit; no frame byte is copied in either direction.
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
#include <rte_prefetch.h>

#define SNIC_MAX_PORTS 64

/* hal/core/PacketHeader.cs, field for field (one cache line). */
struct snic_header {
    uint16_t data_offset;
    uint16_t data_length;
    uint16_t buffer_length;
    uint16_t port;
    uint16_t queue;
    uint16_t flags;
    uint32_t rss_hash;
    uint32_t pool_index;
    uint32_t reserved;
    int64_t timestamp_ticks;
    uint8_t spare[32];
};
_Static_assert(sizeof(struct snic_header) == 64, "PacketHeader is one cache line");

#define SNIC_PRIV_SIZE ((uint16_t)sizeof(struct snic_header))
#define HDR(m) ((struct snic_header *)((char *)(m) + sizeof(struct rte_mbuf)))
#define MBUF(h) ((struct rte_mbuf *)((char *)(h) - sizeof(struct rte_mbuf)))

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

/* Configures and starts a port: one rx and one tx queue per worker, receiving into the runtime's pool. */
int snic_dpdk_port_start(uint16_t port, uint16_t queues, uint16_t rx_depth, uint16_t tx_depth, struct rte_mempool *pool,
                         char *err, int errlen)
{
    struct rte_eth_conf conf;
    struct rte_eth_dev_info info;
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
    memset(&conf, 0, sizeof conf);
    ret = rte_eth_dev_configure(port, queues, queues, &conf);
    if (ret != 0) {
        say(err, errlen, "rte_eth_dev_configure: %s", rte_strerror(-ret));
        return -1;
    }
    for (uint16_t q = 0; q < queues; q++) {
        ret = rte_eth_rx_queue_setup(port, q, rx_depth, (unsigned)rte_eth_dev_socket_id(port), NULL, pool);
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

/* Turns a received mbuf into a PacketRef: the header is filled from the mbuf's own fields. */
static inline struct snic_header *to_packet(struct rte_mbuf *m, uint16_t port, uint16_t queue)
{
    struct snic_header *h = HDR(m);
    h->data_offset = m->data_off;
    h->data_length = m->data_len;
    h->buffer_length = m->buf_len;
    h->port = port;
    h->queue = queue;
    h->flags = 0;
    h->rss_hash = (m->ol_flags & RTE_MBUF_F_RX_RSS_HASH) ? m->hash.rss : 0;
    return h;
}

/*
 * Receives up to n frames; out[i] are their PacketRefs (the mbufs themselves). A frame that came
 * in several segments (larger than one buffer) is freed and counted in *oversize: a PacketRef
 * is one buffer. Returns the number of frames in out.
 */
uint16_t snic_dpdk_rx(uint16_t port, uint16_t queue, struct snic_header **out, uint16_t n, uint16_t tag,
                      uint64_t *oversize)
{
    struct rte_mbuf *m[64];
    if (n > 64)
        n = 64;
    uint16_t got = rte_eth_rx_burst(port, queue, m, n);
    uint16_t k = 0;
    for (uint16_t i = 0; i < got; i++) {
        if (i + 2 < got)
            rte_prefetch0(HDR(m[i + 2]));
        if (unlikely(m[i]->nb_segs != 1)) {
            rte_pktmbuf_free(m[i]);
            (*oversize)++;
            continue;
        }
        out[k++] = to_packet(m[i], tag, queue);
    }
    return k;
}

/*
 * Sends n PacketRefs: each mbuf takes its frame bounds from the header (encapsulation may have
 * moved the start). What the port took is the port's (it frees the mbufs to the pool when sent);
 * the rest stay the caller's. Returns how many were taken.
 */
uint16_t snic_dpdk_tx(uint16_t port, uint16_t queue, struct snic_header **pkts, uint16_t n)
{
    struct rte_mbuf *m[64];
    if (n > 64)
        n = 64;
    for (uint16_t i = 0; i < n; i++) {
        struct rte_mbuf *mb = MBUF(pkts[i]);
        mb->data_off = pkts[i]->data_offset;
        mb->data_len = pkts[i]->data_length;
        mb->pkt_len = pkts[i]->data_length;
        mb->ol_flags = 0;
        m[i] = mb;
    }
    return rte_eth_tx_burst(port, queue, m, n);
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

/* Stops and closes a port: closing releases the mbufs its queues hold back to the pool, so the
 * pool can be freed after; a closed virtual device cannot be started again in this process. */
void snic_dpdk_port_stop(uint16_t port)
{
    rte_eth_dev_stop(port);
    rte_eth_dev_close(port);
}

/* ---- the packet pool: an mbuf pool laid out for PacketRefs ---- */

struct pool_shape {
    char *first;
    size_t stride;
    uint32_t count;
    int regular;
    char *lo, *hi;
};

static void shape_obj(struct rte_mempool *mp, void *arg, void *obj, unsigned idx)
{
    struct pool_shape *s = arg;
    struct rte_mbuf *m = obj;
    struct snic_header *h = HDR(m);
    memset(h, 0, sizeof *h);
    h->pool_index = idx;
    h->buffer_length = m->buf_len;
    char *p = (char *)h;
    if (idx == 0)
        s->first = p;
    else if (p != s->first + (size_t)idx * s->stride)
        s->regular = 0;
    if (s->lo == NULL || p < s->lo)
        s->lo = p;
    if (p + s->stride > s->hi)
        s->hi = p + s->stride;
    s->count++;
    (void)mp;
}

/*
 * Makes the runtime's packet pool: n mbufs with the PacketHeader in their private area and
 * data_room bytes of buffer (headroom included). Reports where the headers lie: [*lo, *hi), and
 * *stride when every header is at first + index * stride (else 0), so the runtime can tell its
 * own PacketRefs from stray pointers.
 */
struct rte_mempool *snic_dpdk_pool_create(const char *name, uint32_t n, uint32_t cache, uint16_t data_room,
                                          char **lo, char **hi, uint32_t *stride, char *err, int errlen)
{
    struct rte_mempool *mp = rte_pktmbuf_pool_create(name, n, cache, SNIC_PRIV_SIZE, data_room, (int)rte_socket_id());
    if (mp == NULL) {
        say(err, errlen, "rte_pktmbuf_pool_create(%u mbufs of %u bytes): %s", n, data_room, rte_strerror(rte_errno));
        return NULL;
    }
    struct pool_shape s = { .stride = mp->header_size + mp->elt_size + mp->trailer_size, .regular = 1 };
    rte_mempool_obj_iter(mp, shape_obj, &s);
    *lo = s.lo;
    *hi = s.hi;
    *stride = s.regular ? (uint32_t)s.stride : 0;
    return mp;
}

/* Takes n buffers, all or none (rte_pktmbuf_alloc_bulk), each an empty frame with `headroom` before it. */
int snic_dpdk_alloc(struct rte_mempool *mp, struct snic_header **out, int n, uint16_t headroom)
{
    struct rte_mbuf *m[64];
    int done = 0;
    while (done < n) {
        int k = n - done > 64 ? 64 : n - done;
        if (rte_pktmbuf_alloc_bulk(mp, m, (unsigned)k) != 0)
            break;
        for (int i = 0; i < k; i++) {
            struct snic_header *h = HDR(m[i]);
            m[i]->data_off = headroom;
            h->data_offset = headroom;
            h->data_length = 0;
            h->buffer_length = m[i]->buf_len;
            h->flags = 0;
            h->rss_hash = 0;
            out[done + i] = h;
        }
        done += k;
    }
    if (done < n) {
        /* All or none per call, so the caller's "as many as there are" is done one at a time. */
        while (done < n) {
            struct rte_mbuf *one = rte_pktmbuf_alloc(mp);
            if (one == NULL)
                break;
            struct snic_header *h = HDR(one);
            one->data_off = headroom;
            h->data_offset = headroom;
            h->data_length = 0;
            h->buffer_length = one->buf_len;
            h->flags = 0;
            h->rss_hash = 0;
            out[done++] = h;
        }
    }
    return done;
}

/* Gives n buffers back to their pool. */
void snic_dpdk_free(struct snic_header **pkts, int n)
{
    struct rte_mbuf *m[64];
    while (n > 0) {
        int k = n > 64 ? 64 : n;
        for (int i = 0; i < k; i++)
            m[i] = MBUF(pkts[i]);
        rte_pktmbuf_free_bulk(m, (unsigned)k);
        pkts += k;
        n -= k;
    }
}

/* Buffers in the pool, per-thread caches included. */
int snic_dpdk_pool_available(struct rte_mempool *mp) { return (int)rte_mempool_avail_count(mp); }

void snic_dpdk_pool_free(struct rte_mempool *mp) { rte_mempool_free(mp); }

int snic_dpdk_cleanup(void) { return rte_eal_cleanup(); }
