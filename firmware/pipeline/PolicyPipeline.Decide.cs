using System.Buffers.Binary;
using System.Numerics;
using SnicRuntime.Firmware.Acl;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Hal;

namespace SnicRuntime.Firmware.Pipeline;

/// <summary>
/// The policy decision for every miss of a burst at once (VPP-style vector processing): each
/// step — inbound route, ACL stage 1, 2, 3, route, mapping — runs over all of the burst's misses
/// before the next, and the lookups of a step are issued pass by pass so their cache misses
/// overlap. At DASH scale a decision touches ~30 cold cache lines; one packet at a time they
/// queue one behind another, a burst at a time they overlap.
/// </summary>
public sealed partial class PolicyPipeline
{
    private const byte Pending = 0, Permitted = 1, Refused = 2;

    // Per miss j of the current burst (j indexes these arrays; _mPacket[j] is the packet index).
    private int[] _mPacket = null!;
    private bool[] _mV6 = null!;
    private UInt128[] _mSrc = null!;
    private UInt128[] _mDst = null!;
    private byte[] _mState = null!;
    private bool[] _mRecorded = null!;
    private bool[] _mMark = null!;
    private int[] _mRoute = null!;
    private int[] _mLo = null!;
    private int[] _mHi = null!;
    private DropReason[] _mReason = null!;
    private uint[] _mAction = null!;
    private bool[] _mCannotCreate = null!;

    // One ACL batch (ClassifyBulk takes up to 64).
    private const int AclBatch = 64;
    private readonly int[] _aclMiss = new int[AclBatch];
    private readonly uint[] _aclSrc4 = new uint[AclBatch];
    private readonly uint[] _aclDst4 = new uint[AclBatch];
    private readonly UInt128[] _aclSrc6 = new UInt128[AclBatch];
    private readonly UInt128[] _aclDst6 = new UInt128[AclBatch];
    private readonly byte[] _aclProtocol = new byte[AclBatch];
    private readonly ushort[] _aclSrcPort = new ushort[AclBatch];
    private readonly ushort[] _aclDstPort = new ushort[AclBatch];
    private readonly int[] _aclResult = new int[AclBatch];

    private void AllocateMissState(int burst)
    {
        _mPacket = new int[burst];
        _mV6 = new bool[burst];
        _mSrc = new UInt128[burst];
        _mDst = new UInt128[burst];
        _mState = new byte[burst];
        _mRecorded = new bool[burst];
        _mMark = new bool[burst];
        _mRoute = new int[burst];
        _mLo = new int[burst];
        _mHi = new int[burst];
        _mReason = new DropReason[burst];
        _mAction = new uint[burst];
        _mCannotCreate = new bool[burst];
    }

    /// <summary>Decides misses 0..m-1: fills <see cref="_mReason"/> (None = allowed) and <see cref="_mAction"/>.</summary>
    private void DecideBurst(PolicyTables t, int m, ReadOnlySpan<PacketRef> packets, ReadOnlySpan<ParsedPacket> meta)
    {
        for (int j = 0; j < m; j++)
        {
            int i = _mPacket[j];
            ref readonly ParsedPacket p = ref meta[i];
            ReadOnlySpan<byte> f = packets[i].Data;
            int l3 = p.L3;
            bool v6 = p.IsIpv6;
            _mV6[j] = v6;
            _mSrc[j] = v6 ? BinaryPrimitives.ReadUInt128BigEndian(f[(l3 + 8)..]) : BinaryPrimitives.ReadUInt32BigEndian(f[(l3 + 12)..]);
            _mDst[j] = v6 ? BinaryPrimitives.ReadUInt128BigEndian(f[(l3 + 24)..]) : BinaryPrimitives.ReadUInt32BigEndian(f[(l3 + 16)..]);
            _mReason[j] = DropReason.None;
            _mAction[j] = PolicyTables.NoAction;
            _mRecorded[j] = true;
            _mState[j] = Pending;
            if (_mCannotCreate[j])
            {
                // A TCP packet without SYN and without any flow: it is dropped NoFlow, so the
                // policy is not consulted (an ACK flood costs a lookup, not an ACL evaluation).
                Refuse(j, DropReason.NoFlow);
                continue;
            }

            if (!_outbound[i] && !InboundRouteAllows(t, t.Enis[_eniOf[i]]!, f, in p, out DropReason reason))
            {
                Refuse(j, reason);
                continue;
            }

            Counters.AclEvaluations++;
        }

        // Later IPv4 stages' first reads are requested up front: stages run one after another over
        // the burst, and each would otherwise start by waiting on its own index lines.
        for (int j = 0; j < m; j++)
        {
            if (_mState[j] == Pending && !_mV6[j])
            {
                for (int stage = 1; stage < 3; stage++)
                {
                    GroupOf<uint>(t, j, stage, v6: false)?.Prefetch((uint)_mSrc[j], (uint)_mDst[j]);
                }
            }
        }

        for (int stage = 0; stage < 3; stage++)
        {
            AclStage<uint>(t, stage, v6: false, m, meta, _aclSrc4, _aclDst4);
            AclStage<UInt128>(t, stage, v6: true, m, meta, _aclSrc6, _aclDst6);
        }

        for (int j = 0; j < m; j++)
        {
            if (_mState[j] == Pending)
            {
                if (_mRecorded[j])
                {
                    _mState[j] = Permitted;
                }
                else
                {
                    Refuse(j, DropReason.AclDeny);
                }
            }
        }

        RouteAndMap(t, m, meta);
    }

    private void Refuse(int j, DropReason reason)
    {
        _mState[j] = Refused;
        _mReason[j] = reason;
    }

    private AclGroup<T>? GroupOf<T>(PolicyTables t, int j, int stage, bool v6) where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        int i = _mPacket[j];
        Eni eni = t.Enis[_eniOf[i]]!;
        object? stages = (_outbound[i], v6) switch
        {
            (true, false) => eni.OutboundV4,
            (false, false) => eni.InboundV4,
            (true, true) => eni.OutboundV6,
            _ => eni.InboundV6,
        };
        return ((AclGroup<T>?[])stages!)[stage];
    }

    /// <summary>One ACL stage for one family: misses sharing a group are classified together.</summary>
    private void AclStage<T>(PolicyTables t, int stage, bool v6, int m, ReadOnlySpan<ParsedPacket> meta, T[] src, T[] dst)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        Array.Clear(_mMark, 0, m);
        for (int j0 = 0; j0 < m; j0++)
        {
            if (_mState[j0] != Pending || _mV6[j0] != v6 || _mMark[j0])
            {
                continue;
            }

            AclGroup<T>? group = GroupOf<T>(t, j0, stage, v6);
            if (group is null)
            {
                _mMark[j0] = true; // no group at this stage: skipped
                continue;
            }

            int n = 0;
            for (int j = j0; j < m && n < AclBatch; j++)
            {
                if (_mState[j] != Pending || _mV6[j] != v6 || _mMark[j] || !ReferenceEquals(GroupOf<T>(t, j, stage, v6), group))
                {
                    continue;
                }

                _mMark[j] = true;
                ref readonly ParsedPacket p = ref meta[_mPacket[j]];
                _aclMiss[n] = j;
                src[n] = T.CreateTruncating(_mSrc[j]);
                dst[n] = T.CreateTruncating(_mDst[j]);
                _aclProtocol[n] = p.L4Protocol;
                _aclSrcPort[n] = p.SrcPort;
                _aclDstPort[n] = p.DstPort;
                n++;
            }

            group.ClassifyBulk(src.AsSpan(0, n), dst.AsSpan(0, n), _aclProtocol.AsSpan(0, n), _aclSrcPort.AsSpan(0, n), _aclDstPort.AsSpan(0, n), _aclResult);
            for (int k = 0; k < n; k++)
            {
                int j = _aclMiss[k];
                int rule = _aclResult[k];
                if (AclStep(rule < 0 ? null : group.RuleAt(rule).Action, ref _mRecorded[j]) is bool final)
                {
                    if (final)
                    {
                        _mState[j] = Permitted;
                    }
                    else
                    {
                        Refuse(j, DropReason.AclDeny);
                    }
                }
            }
        }
    }

    /// <summary>Route lookups, then mapping lookups, each in passes over the permitted misses.</summary>
    private void RouteAndMap(PolicyTables t, int m, ReadOnlySpan<ParsedPacket> meta)
    {
        // Pass 1: outbound v4 route index entries requested.
        for (int j = 0; j < m; j++)
        {
            if (_mState[j] == Permitted && _outbound[_mPacket[j]] && !_mV6[j] && t.Enis[_eniOf[_mPacket[j]]]!.RouteTable is RouteTable rt)
            {
                rt.V4.PrefetchIndex((uint)_mDst[j]);
            }
        }

        // Pass 2: search windows read (their middles requested).
        for (int j = 0; j < m; j++)
        {
            if (_mState[j] == Permitted && _outbound[_mPacket[j]] && !_mV6[j] && t.Enis[_eniOf[_mPacket[j]]]!.RouteTable is RouteTable rt)
            {
                (_mLo[j], _mHi[j]) = rt.V4.Window((uint)_mDst[j]);
            }
        }

        // Pass 3: routes found; the mapping slots they will read requested.
        for (int j = 0; j < m; j++)
        {
            int i = _mPacket[j];
            if (_mState[j] != Permitted)
            {
                continue;
            }

            Eni eni = t.Enis[_eniOf[i]]!;
            if (!_outbound[i])
            {
                // The reply's action: the remote CA's mapping in the ENI's VNET.
                if (!_mV6[j])
                {
                    t.Mappings4.Prefetch((ulong)eni.Vnet << 32 | (uint)_mSrc[j]);
                }

                continue;
            }

            Counters.RouteLookups++;
            RouteTable? rt = eni.RouteTable;
            int r = rt is null ? -1 : _mV6[j] ? rt.V6.Lookup(_mDst[j]) : rt.V4.Search((uint)_mDst[j], _mLo[j], _mHi[j]);
            _mRoute[j] = r;
            if (r >= 0)
            {
                CacheHint.Prefetch(ref rt!.Routes[r]);
            }
        }

        // Pass 3b: the mapping slots the routes will read requested.
        for (int j = 0; j < m; j++)
        {
            int i = _mPacket[j];
            if (_mState[j] == Permitted && _outbound[i])
            {
                ulong key = MappingKeyOf(t.Enis[_eniOf[i]]!, _mRoute[j], _mDst[j], _mV6[j]);
                if (key != 0)
                {
                    t.Mappings4.Prefetch(key);
                }
            }
        }

        // Pass 4: actions.
        for (int j = 0; j < m; j++)
        {
            int i = _mPacket[j];
            if (_mState[j] != Permitted)
            {
                continue;
            }

            Eni eni = t.Enis[_eniOf[i]]!;
            if (!_outbound[i])
            {
                int reply = MappingOf(t, eni.Vnet, _mSrc[j], _mV6[j]);
                _mAction[j] = reply >= 0 ? (uint)reply : PolicyTables.NoAction;
            }
            else if (!Resolve(t, eni, _mRoute[j], _mDst[j], _mV6[j], meta[i].FlowHash, out _mAction[j], out DropReason reason))
            {
                Refuse(j, reason);
                continue;
            }

            // The new flow's first packet reads its action record when the flow is made: request it
            // now (a million mappings means a million records, read at random).
            t.Actions.Prefetch(_mAction[j] & PolicyTables.NoAction);
        }
    }
}
