using SnicRuntime.Firmware.Plans;
using SnicRuntime.Firmware.Routing;
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

}
