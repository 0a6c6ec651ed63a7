// ARP: answers for our address, resolves next hops with a small cache, holds a few packets meanwhile.
#include <string.h>

#include "core.hpp"

namespace ukrun::net::detail {
namespace {

using namespace wire;

constexpr uint64_t kArpRetryInterval = kSecond;
constexpr uint8_t kArpAttempts = 3;
constexpr uint64_t kArpLifetime = 60 * kSecond;
constexpr MacAddress kBroadcastMac{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

// Resolved entries expire lazily, here, so an idle cache never wakes the event loop.
ArpEntry* find_entry(StackCore& core, Ipv4Address address)
{
    for (auto& entry : core.arp) {
        if (entry.kind == ArpEntry::Kind::Free || entry.address != address)
            continue;
        if (entry.kind == ArpEntry::Kind::Resolved && entry.deadline <= core.now()) {
            entry = ArpEntry{};
            return nullptr;
        }
        return &entry;
    }
    return nullptr;
}

// A free entry, else the resolved entry closest to expiry; pending entries are never evicted
// because packets wait on them.
ArpEntry* claim_entry(StackCore& core, Ipv4Address address)
{
    ArpEntry* victim = nullptr;
    for (auto& entry : core.arp) {
        if (entry.kind == ArpEntry::Kind::Free) {
            victim = &entry;
            break;
        }
        if (entry.kind == ArpEntry::Kind::Resolved && (victim == nullptr || entry.deadline < victim->deadline))
            victim = &entry;
    }
    if (victim != nullptr) {
        *victim = ArpEntry{};
        victim->address = address;
    }
    return victim;
}

void send_arp(StackCore& core, uint16_t operation, const MacAddress& target_mac, Ipv4Address target,
              const MacAddress& destination)
{
    uint8_t* p = core.frame + kEthHeader;
    store16(p, 1); // Ethernet
    store16(p + 2, kEtherTypeIpv4);
    p[4] = 6;
    p[5] = 4;
    store16(p + 6, operation);
    memcpy(p + 8, core.config.mac.bytes, 6);
    store32(p + 14, core.config.ipv4.address);
    memcpy(p + 18, target_mac.bytes, 6);
    store32(p + 24, target);
    core.transmit(destination, kEtherTypeArp, kArpPacket);
}

void send_request(StackCore& core, ArpEntry& entry, uint64_t now)
{
    entry.attempts++;
    entry.deadline = now + kArpRetryInterval;
    send_arp(core, kArpRequest, MacAddress{}, entry.address, kBroadcastMac);
}

void flush_pending(StackCore& core, const ArpEntry& entry)
{
    for (auto& pending : core.pending) {
        if (!pending.used || pending.next_hop != entry.address)
            continue;
        memcpy(core.frame + kEthHeader, pending.packet, pending.len);
        pending.used = false;
        core.transmit(entry.mac, kEtherTypeIpv4, pending.len);
    }
}

size_t drop_pending(StackCore& core, Ipv4Address next_hop)
{
    size_t dropped = 0;
    for (auto& pending : core.pending)
        if (pending.used && pending.next_hop == next_hop) {
            pending.used = false;
            dropped++;
        }
    return dropped;
}

bool is_unicast_mac(const uint8_t* mac) { return (mac[0] & 1) == 0; }

} // namespace

void arp_input(StackCore& core, const uint8_t* p, size_t len)
{
    // Untrusted bytes: sizes and types are checked before any address is read.
    if (len < kArpPacket || load16(p) != 1 || load16(p + 2) != kEtherTypeIpv4 || p[4] != 6 || p[5] != 4) {
        core.stats.arp_malformed++;
        return;
    }
    const uint16_t operation = load16(p + 6);
    const Ipv4Address sender = load32(p + 14);
    const Ipv4Address target = load32(p + 24);
    if ((operation != kArpRequest && operation != kArpReply) || !is_unicast_mac(p + 8)) {
        core.stats.arp_malformed++;
        return;
    }
    MacAddress sender_mac;
    memcpy(sender_mac.bytes, p + 8, 6);
    const uint64_t now = core.now();
    const bool for_us = target == core.config.ipv4.address;

    // RFC 826: refresh an entry we already have; add one only when the sender is talking to us.
    // A sender of 0.0.0.0 is a probe and names nobody.
    if (sender != 0 && sender != core.config.ipv4.address && !core.is_broadcast(sender)) {
        ArpEntry* entry = find_entry(core, sender);
        if (entry == nullptr && for_us)
            entry = claim_entry(core, sender);
        if (entry != nullptr) {
            entry->kind = ArpEntry::Kind::Resolved;
            entry->mac = sender_mac;
            entry->attempts = 0;
            entry->deadline = now + kArpLifetime;
            flush_pending(core, *entry);
        }
    }
    if (operation == kArpRequest && for_us)
        send_arp(core, kArpReply, sender_mac, sender, sender_mac);
}

Error arp_send_ipv4(StackCore& core, Ipv4Address destination, size_t packet_len)
{
    if (core.is_broadcast(destination)) {
        core.transmit(kBroadcastMac, kEtherTypeIpv4, packet_len);
        return Error::None;
    }
    Ipv4Address next_hop = destination;
    if ((destination & core.netmask) != (core.config.ipv4.address & core.netmask)) {
        if (core.config.ipv4.gateway == 0) {
            core.stats.ip_no_route++;
            return Error::Unreachable;
        }
        next_hop = core.config.ipv4.gateway;
    }
    ArpEntry* entry = find_entry(core, next_hop);
    if (entry != nullptr && entry->kind == ArpEntry::Kind::Resolved) {
        core.transmit(entry->mac, kEtherTypeIpv4, packet_len);
        return Error::None;
    }
    PendingPacket* slot = nullptr;
    for (auto& pending : core.pending)
        if (!pending.used) {
            slot = &pending;
            break;
        }
    if (entry == nullptr) {
        entry = claim_entry(core, next_hop);
        if (entry == nullptr) {
            core.stats.arp_queue_full++;
            return Error::NoResources;
        }
        entry->kind = ArpEntry::Kind::Pending;
    }
    // A full queue drops the packet as a congested wire would; TCP retransmits it.
    Error result = Error::None;
    if (slot == nullptr) {
        core.stats.arp_queue_full++;
        result = Error::NoResources;
    } else {
        slot->used = true;
        slot->next_hop = next_hop;
        slot->len = static_cast<uint16_t>(packet_len);
        memcpy(slot->packet, core.frame + kEthHeader, packet_len);
    }
    // The first packet for a next hop starts resolution (this reuses the frame buffer, so it
    // comes after the copy); retries are paced by arp_timers.
    if (entry->attempts == 0)
        send_request(core, *entry, core.now());
    return result;
}

void arp_timers(StackCore& core, uint64_t now)
{
    for (auto& entry : core.arp) {
        if (entry.kind != ArpEntry::Kind::Pending || entry.deadline > now)
            continue;
        if (entry.attempts < kArpAttempts) {
            send_request(core, entry, now);
        } else {
            core.stats.arp_unresolved += drop_pending(core, entry.address);
            entry = ArpEntry{};
        }
    }
}

uint64_t arp_next_deadline(const StackCore& core)
{
    uint64_t deadline = kNever;
    for (const auto& entry : core.arp)
        if (entry.kind == ArpEntry::Kind::Pending && entry.deadline < deadline)
            deadline = entry.deadline;
    return deadline;
}

} // namespace ukrun::net::detail
