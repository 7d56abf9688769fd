/* Tunables of a dmos node, one line each. */
#ifndef KERNEL_PARAM_H
#define KERNEL_PARAM_H

#define MAX_NODES        64     /* nodes a pool's node table holds */
#define HZ               100    /* timer ticks per second with a doorbell */
#define HZ_POLLED        1000   /* ... and without one: rings are polled at every tick */
#define HEARTBEAT_HZ     100    /* heartbeats per second in the node table */
#define JOIN_REPORT_MS   5000   /* how often a node says whom it still waits for */
#define TAKEOVER_WAIT_MS 500    /* watch a taken node-table slot this long for a live heartbeat */
#define FORMAT_WAIT_MS   10000  /* wait this long for another node to finish formatting */
#define DEAD_AFTER_MS    2000   /* no heartbeat for this long: a node is declared dead */
#define LIVENESS_MS      100    /* how often a node looks at the others' heartbeats */
#define MSG_TIMEOUT_MS   1000   /* a request without reply fails after this long */
#define MOVE_WAIT_MS     1000   /* a fault or a drain waits this long for a moving block,
				   then takes its mover for dead (a fault waits with
				   interrupts off, so less than DEAD_AFTER_MS) */
#define BLK_TIMEOUT_MS   30000  /* a disk request not completed by then fails; the disk goes offline */
#define POOL_MIN_SIZE    (16UL << 20)   /* smallest pool a node accepts */
#define REGION_SIZE      (32UL << 20)   /* pool region: the unit that fails */
#define CLUSTER_ID_MAX   32     /* bytes of a cluster id, with its NUL */

#endif
