using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Encap;
using SnicRuntime.Firmware.Plans;
using System.Runtime.CompilerServices;
using SnicRuntime.Firmware.Pipeline;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Encap;

public sealed class ActionTableTests
{
    [Fact]
    public void A_tunnel_action_is_16_bytes_four_to_a_cache_line() => Assert.Equal(16, Unsafe.SizeOf<TunnelAction>());

    [Theory]
    [InlineData(TunnelActionKind.Encap, EncapKind.Vxlan, 0xAC100114u, 100u, 0x00DD_DDDD_DDDDUL, -1)]
    [InlineData(TunnelActionKind.Encap, EncapKind.Nvgre, 0xFFFF_FFFFu, 0xFF_FFFFu, 0xFFFF_FFFF_FFFFUL, -1)]
    [InlineData(TunnelActionKind.ServiceTunnel, EncapKind.Vxlan, 1u, 0u, 0UL, 0)]
    [InlineData(TunnelActionKind.ServiceTunnel, EncapKind.Nvgre, 2u, 7u, 0x0200_0000_0001UL, PlanLimits.MaxServiceTunnels - 1)]
    [InlineData(TunnelActionKind.Direct, EncapKind.Vxlan, 0u, 0u, 0UL, -1)]
    public void Packing_keeps_every_field(TunnelActionKind kind, EncapKind encap, uint pa, uint vni, ulong mac, int service)
    {
        var a = new TunnelAction(kind, encap, pa, vni, mac, service);
        Assert.Equal(kind, a.Kind);
        Assert.Equal(encap, a.Encap);
        Assert.Equal(pa, a.UnderlayDestination);
        Assert.Equal(vni, a.Vni);
        Assert.Equal(mac, a.InnerDestinationMac);
        Assert.Equal(service, a.Service);
        Assert.Equal(a, new ActionTable([new TunnelAction(), a])[1]); // and the table hands it back whole
    }

    [Fact]
    public void Fields_that_do_not_fit_are_refused_not_truncated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TunnelAction(TunnelActionKind.Encap, EncapKind.Vxlan, 1, 1u << 24, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TunnelAction(TunnelActionKind.Encap, EncapKind.Vxlan, 1, 1, 1UL << 48));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TunnelAction(TunnelActionKind.ServiceTunnel, EncapKind.Vxlan, 1, 1, 0, PlanLimits.MaxServiceTunnels));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TunnelAction(TunnelActionKind.ServiceTunnel, EncapKind.Vxlan, 1, 1, 0, -2));
    }

    [Fact]
    public void Reads_outside_the_table_throw_and_prefetches_outside_it_are_ignored()
    {
        var table = new ActionTable([new TunnelAction(TunnelActionKind.Encap, EncapKind.Vxlan, 5, 6, 7)]);
        Assert.Equal(1, table.Length);
        Assert.Throws<IndexOutOfRangeException>(() => table[1]);
        Assert.Throws<IndexOutOfRangeException>(() => table[-1]);
        table.Prefetch(PolicyTables.NoAction); // a flow without an action: nothing to fetch, no fault
        Assert.Equal(5u, table[0].UnderlayDestination);
    }

    [Fact]
    public void A_million_actions_sit_in_one_native_table()
    {
        var actions = new TunnelAction[1_000_000];
        for (int i = 0; i < actions.Length; i++)
        {
            actions[i] = new TunnelAction(TunnelActionKind.Encap, EncapKind.Vxlan, (uint)i, (uint)i & 0xFF_FFFF, (ulong)i);
        }

        var table = new ActionTable(actions);
        Assert.Equal(actions.Length, table.Length);
        for (int i = 0; i < actions.Length; i += 9973)
        {
            Assert.Equal(actions[i], table[i]);
        }
    }
}
