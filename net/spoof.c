/*
 * Frames that carry another node's address but not its MAC. The launcher's
 * hub (docs/net.md) repeats every frame to every port, slirp's too, and
 * slirp answers for any address of its network: a SYN one node sends
 * another also reaches slirp, which (restricted, tools/dmoslib/qemu.py)
 * answers it with a RST in the other node's name, from its own MAC, and
 * well before the real node answers under TCG. Taken, that RST would
 * refuse every connection between nodes. Such a frame is recognised by
 * ARP: its IPv4 sender is on our segment and ARP knows that address at a
 * different MAC. A sender ARP does not know yet is let through (we have
 * sent it nothing, so nothing can answer in its name).
 */
#include "kernel/kernel.h"
#include "net/net.h"

#include "lwip/etharp.h"
#include "lwip/netif.h"
#include "lwip/prot/ethernet.h"

#define IP_SRC_AT (SIZEOF_ETH_HDR + 12)         /* the IPv4 header's source address */

bool net_spoofed(struct netif *n, const void *frame, unsigned len)
{
	const uint8_t *f = frame;
	struct eth_addr *mac;
	const ip4_addr_t *found;
	ip4_addr_t src;

	if (len < IP_SRC_AT + 4 || f[12] != 0x08 || f[13] != 0x00)
		return false;           /* not IPv4 */
	memcpy(&src, f + IP_SRC_AT, sizeof(src));
	if (!ip4_addr_netcmp(&src, netif_ip4_addr(n), netif_ip4_netmask(n)))
		return false;
	return etharp_find_addr(n, &src, &mac, &found) >= 0 &&
	       memcmp(mac->addr, f + ETH_HWADDR_LEN, ETH_HWADDR_LEN) != 0;
}
