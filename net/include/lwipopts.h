/*
 * lwIP's configuration for dmos (lwip/opt.h reads it first). lwIP runs
 * without an OS (NO_SYS): the network work of net/netif.c and the socket
 * system calls of net/socket.c call it, never at once (one CPU, a kernel
 * that is not preempted, nothing in interrupts), so there are no threads,
 * semaphores or locks, and no netconn or lwIP socket API: programs' BSD
 * sockets are net/socket.c, on the raw API. IPv4 only, with ARP, ICMP,
 * UDP, TCP and DHCP built in.
 *
 * lwIP's defaults are sized for microcontrollers (MSS 536, a window of 4
 * segments, 1600 bytes of heap, 5 TCP connections). A node has 128 MiB and
 * a 1500-byte MTU, so the sizes below are for real traffic; each says why.
 */
#ifndef NET_LWIPOPTS_H
#define NET_LWIPOPTS_H

/* --- the system around it --------------------------------------------- */
#define NO_SYS                  1       /* one thread: the kernel thread */
#define SYS_LIGHTWEIGHT_PROT    0       /* ... so no critical sections either */
#define LWIP_NETCONN            0       /* these need threads */
#define LWIP_SOCKET             0
#define LWIP_TIMERS             1       /* sys_check_timeouts() every tick */
#define MEM_LIBC_MALLOC         0       /* lwIP's own heap, below: no kernel allocator */
#define MEMP_MEM_MALLOC         0       /* ... and its own fixed pools */
#define MEM_ALIGNMENT           8       /* x86_64: keep u64 and pointers aligned */

/* --- protocols ----------------------------------------------------------- */
#define LWIP_IPV4               1
#define LWIP_IPV6               0
#define LWIP_ARP                1
#define LWIP_ETHERNET           1
#define LWIP_ICMP               1       /* answers ping */
#define LWIP_RAW                0
#define LWIP_UDP                1
#define LWIP_TCP                1
#define LWIP_DHCP               1       /* built, used with ip=dhcp (static is the default) */
#define LWIP_DNS                0
#define LWIP_IGMP               0
#define LWIP_AUTOIP             0
#define IP_FORWARD              0       /* a node is a host, not a router */
#define IP_REASSEMBLY           1       /* a fragmented UDP datagram still arrives */
#define IP_FRAG                 1
#define ETHARP_TABLE_MATCH_NETIF 0
#define ARP_TABLE_SIZE          32      /* every node of the segment, and the gateway */
#define LWIP_NETIF_LINK_CALLBACK 0      /* net/netif.c polls the link itself */
#define LWIP_SINGLE_NETIF       0       /* the card's netif, and the cluster IP's
						   (net/vip.c), which ip4_input accepts on */
/* A program may talk to another on the node's own address: lwIP queues
 * such packets on the netif and the network work delivers them
 * (netif_poll_all); the queue is unbounded, but each packet is one TCP
 * window's or UDP datagram's worth, so the senders' own limits bound it. */
#define LWIP_NETIF_LOOPBACK     1
#define LWIP_LOOPBACK_MAX_PBUFS 0
/* SO_REUSEADDR: a server binds its port again while old connections of it
 * sit in TIME_WAIT. */
#define SO_REUSE                1

/* Every checksum in software: the driver takes no checksum offload. */
#define CHECKSUM_GEN_IP         1
#define CHECKSUM_GEN_UDP        1
#define CHECKSUM_GEN_TCP        1
#define CHECKSUM_GEN_ICMP       1
#define CHECKSUM_CHECK_IP       1
#define CHECKSUM_CHECK_UDP      1
#define CHECKSUM_CHECK_TCP      1
#define CHECKSUM_CHECK_ICMP     1

/* --- TCP sizes ------------------------------------------------------------- */
/* A full Ethernet segment: 1500 - 20 (IP) - 20 (TCP). */
#define TCP_MSS                 1460
/* 32 segments in flight each way (46720 bytes, under the 64 KiB a window
 * without scaling can say): with lwIP's 4 the sender stalls on every round
 * trip; 32 keeps a host client's stream moving across slirp's latency. */
#define TCP_WND                 (32 * TCP_MSS)
#define TCP_SND_BUF             (32 * TCP_MSS)
#define TCP_SND_QUEUELEN        ((4 * TCP_SND_BUF + TCP_MSS - 1) / TCP_MSS)
/* Connections at once, half-open, open and in TIME_WAIT together: servers
 * hold a few hundred clients, and every connection a node closes first
 * stays 2 * MSL in TIME_WAIT. When none is free lwIP takes the oldest
 * TIME_WAIT one, then refuses: a SYN is dropped (the client retries), a
 * program's socket() or connect() gets ENOBUFS. A pcb is about 200 bytes. */
#define MEMP_NUM_TCP_PCB        512
#define MEMP_NUM_TCP_PCB_LISTEN 64      /* listening sockets of all programs */
/* Queued segments of all connections (about 40 bytes each): lwIP wants one
 * connection's whole send queue; a few dozen busy senders in practice. A
 * sender that finds none waits for acks (tcp_write's ERR_MEM). */
#define MEMP_NUM_TCP_SEG        (16 * TCP_SND_QUEUELEN)
/* A listener holds at most its backlog of connections that are half-open
 * or not yet accepted (net/socket.c keeps accepted-by-lwIP ones counted
 * until the program takes them); past it SYNs are dropped. lwIP's default
 * has no backlog at all. */
#define TCP_LISTEN_BACKLOG      1
#define TCP_DEFAULT_LISTEN_BACKLOG 16
/* Out-of-order segments a connection keeps: bounded, so that one lossy
 * connection cannot hold the receive pool. */
#define TCP_OOSEQ_MAX_PBUFS     32
#define TCP_OOSEQ_MAX_BYTES     TCP_WND
#define LWIP_TCP_KEEPALIVE      1       /* a dead client's connection goes, eventually */
#define TCP_QUEUE_OOSEQ         1       /* keep segments that arrive out of order */

/* --- memory -------------------------------------------------------------- */
/* The heap holds what tcp_write copies (PBUF_RAM), ARP's queued packets,
 * UDP datagrams being sent, the loopback queue, and small received
 * segments that sockets copy out of the pool: TCP_SND_BUF for each of
 * about eighty busy senders. When it is short a sender waits. */
#define MEM_SIZE                (4 * 1024 * 1024)
/* Received frames are copied into pool pbufs of one frame each, and a
 * socket keeps them until its program reads: a full window of one
 * connection is 32 of them, so 1024 (1.5 MiB) let about thirty slow
 * readers hold a full window each and the rest still receive. An empty
 * pool drops frames at the card (TCP sends them again). */
#define PBUF_POOL_SIZE          1024
#define PBUF_POOL_BUFSIZE       LWIP_MEM_ALIGN_SIZE(1514 + ETH_PAD_SIZE)
#define ETH_PAD_SIZE            0
#define MEMP_NUM_PBUF           64      /* pbufs pointing at data we do not copy */
#define MEMP_NUM_UDP_PCB        64      /* UDP sockets of all programs, DHCP's */
#define MEMP_NUM_ARP_QUEUE      64      /* packets waiting for an ARP answer */

/* --- counters, for the monitor's `net` ------------------------------------- */
#define LWIP_STATS              1
#define LWIP_STATS_DISPLAY      0
#define LINK_STATS              1
#define ETHARP_STATS            1
#define IP_STATS                1
#define ICMP_STATS              1
#define UDP_STATS               1
#define TCP_STATS               1
#define MEM_STATS               1
#define MEMP_STATS              1
#define SYS_STATS               0

#define LWIP_NETIF_HOSTNAME     0
#define LWIP_NETIF_API          0

#endif
