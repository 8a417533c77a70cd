using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Encap;
using SnicRuntime.Firmware.Plans;
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using SnicRuntime.Firmware.Flows;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Firmware.Pipeline;

/// <summary>One flow as the management plane shows it (both directions: endpoints are the normalised pair).</summary>
public sealed record FlowView(
    int Worker,
    string Eni,
    byte Protocol,
    string AddressA,
    ushort PortA,
    string AddressB,
    ushort PortB,
    bool OpenedByA,
    TcpState Tcp,
    uint Packets,
    uint Bytes,
    uint IdleMs,
    ushort Generation,
    string Action);

/// <summary>Which flows a dump returns; null fields match anything.</summary>
public sealed record FlowFilter(string? Eni = null, string? Address = null, ushort? Port = null, byte? Protocol = null)
{
    public bool Matches(FlowView f) =>
        (Eni is null || f.Eni == Eni)
        && (Address is null || f.AddressA == Address || f.AddressB == Address)
        && (Port is null || f.PortA == Port || f.PortB == Port)
        && (Protocol is null || f.Protocol == Protocol);
}

/// <summary>A page of flows and the cursor of the next page (null at the end).</summary>
public sealed record FlowPage(IReadOnlyList<FlowView> Flows, string? Next);

/// <summary>
/// Pages through every worker's flow tables from another thread while the workers keep running:
/// each bucket is copied under its sequence lock (<see cref="FlowTable{TKey}.ReadFlows"/>), so a
/// flow is never seen half-written and no worker waits. A cursor names where the next page starts
/// (worker, family, bucket); flows inserted or moved behind the cursor during paging can be
/// missed or, after a cuckoo move, seen twice — the usual contract of a live table walk. A page
/// never splits a bucket, so it may hold up to three flows more than the limit asked.
/// </summary>
public static class FlowDump
{
    public const int MaxLimit = 10_000;

    public static FlowPage Read(IReadOnlyList<PolicyPipeline> workers, PolicyTables? tables, FlowFilter filter, string? cursor, int limit)
    {
        ArgumentNullException.ThrowIfNull(workers);
        ArgumentNullException.ThrowIfNull(filter);
        if (limit < 1 || limit > MaxLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, $"limit must be 1..{MaxLimit}");
        }

        (int worker, int family, int bucket) = ParseCursor(cursor, workers.Count);
        var result = new List<FlowView>(Math.Min(limit, 1024));
        var v4 = new FlowRecord<FlowKeyV4>[64];
        var v6 = new FlowRecord<FlowKeyV6>[64];
        while (worker < workers.Count)
        {
            PolicyPipeline p = workers[worker];
            int next;
            if (family == 4)
            {
                int n = p.V4.ReadFlows(bucket, v4.AsSpan(0, Math.Clamp(limit - result.Count, FlowKeyV4.SlotsPerBucket, v4.Length)), out next);
                for (int i = 0; i < n; i++)
                {
                    Add(result, filter, View(worker, p, tables, v4[i].Key.Scope, v4[i].Key.Protocol, V4(v4[i].Key.AddressLow), v4[i].Key.PortLow,
                        V4(v4[i].Key.AddressHigh), v4[i].Key.PortHigh, v4[i].Entry));
                }
            }
            else
            {
                int n = p.V6.ReadFlows(bucket, v6.AsSpan(0, Math.Clamp(limit - result.Count, FlowKeyV6.SlotsPerBucket, v6.Length)), out next);
                for (int i = 0; i < n; i++)
                {
                    Add(result, filter, View(worker, p, tables, v6[i].Key.Scope, v6[i].Key.Protocol, V6(v6[i].Key.AddressLow), v6[i].Key.PortLow,
                        V6(v6[i].Key.AddressHigh), v6[i].Key.PortHigh, v6[i].Entry));
                }
            }

            if (next < 0)
            {
                (worker, family) = family == 4 ? (worker, 6) : (worker + 1, 4);
                bucket = 0;
            }
            else
            {
                bucket = next;
            }

            // A page ends on a bucket boundary, so the cursor never splits a bucket.
            if (result.Count >= limit)
            {
                break;
            }
        }

        string? nextCursor = worker < workers.Count ? string.Create(CultureInfo.InvariantCulture, $"{worker}.{family}.{bucket}") : null;
        return new FlowPage(result, nextCursor);
    }

    private static void Add(List<FlowView> result, FlowFilter filter, FlowView view)
    {
        if (filter.Matches(view))
        {
            result.Add(view);
        }
    }

    private static (int Worker, int Family, int Bucket) ParseCursor(string? cursor, int workers)
    {
        if (string.IsNullOrEmpty(cursor))
        {
            return (0, 4, 0);
        }

        string[] parts = cursor.Split('.');
        if (parts.Length == 3
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int w) && w < workers
            && parts[1] is "4" or "6"
            && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out int b))
        {
            return (w, parts[1] == "4" ? 4 : 6, b);
        }

        throw new ArgumentException($"cursor '{cursor}' is not one this card issued (worker.family.bucket)", nameof(cursor));
    }

    private static FlowView View(int worker, PolicyPipeline p, PolicyTables? t, uint scope, byte protocol, string a, ushort portA, string b, ushort portB, FlowEntry e)
    {
        string eni = t?.Enis is { } enis && scope < enis.Length && enis[scope] is Eni found ? found.Name : $"#{scope}";
        return new FlowView(worker, eni, protocol, a, portA, b, portB, (e.Flags & FlowFlags.OriginatorIsLow) != 0, e.Tcp, e.Packets, e.Bytes,
            unchecked(p.NowMs - e.LastSeenMs), e.Generation, Describe(t, in e));
    }

    /// <summary>The flow's outbound action in words ("vxlan to 172.16.1.20 vni 200, meter class 1").</summary>
    public static string Describe(PolicyTables? t, in FlowEntry e)
    {
        uint index = e.Action & PolicyTables.NoAction;
        string meter = (e.Action >> 24) is uint c and > 0 ? $", meter class {c}" : "";
        string stale = t is not null && e.Generation != t.Generation16 ? $" (decided by generation {e.Generation}; re-decided on its next packet)" : "";
        if (index == PolicyTables.NoAction)
        {
            return "no outbound route (replies dropped)" + stale;
        }

        if (t is null || index >= t.Actions.Length)
        {
            return $"action {index}" + stale;
        }

        TunnelAction a = t.Actions[index];
        string what = a.Kind switch
        {
            TunnelActionKind.Direct => "direct (decapsulate)",
            TunnelActionKind.ServiceTunnel => $"nat46 via service tunnel {t.ServiceTunnels[a.Service].Name}, vxlan to {V4(a.UnderlayDestination)} vni {a.Vni}",
            _ => $"{(a.Encap == EncapKind.Nvgre ? "nvgre" : "vxlan")} to {V4(a.UnderlayDestination)} vni {a.Vni}",
        };
        return what + meter + stale;
    }

    private static string V4(uint address) => new IPAddress(BinaryPrimitives.ReverseEndianness(address)).ToString();

    private static string V6(UInt128 address)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, address);
        return new IPAddress(bytes).ToString();
    }
}
