using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Plans;
using System.Numerics;
using SnicRuntime.Firmware.Acl;
using SnicRuntime.Firmware.Parsing;

namespace SnicRuntime.Firmware.Pipeline;

/// <summary>
/// The ACL step of the policy pipeline (DASH stages, default deny), burst-wise for the misses of a
/// vector and one packet at a time for tests and replay. Part of <see cref="PolicyPipeline"/>,
/// whose per-vector order lives in pipeline/; the classifier itself is <see cref="AclGroup{T}"/>.
/// </summary>
public sealed partial class PolicyPipeline
{
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

    /// <summary>
    /// DASH ACL stage semantics (one packet; the pipeline runs the same steps burst-wise): stages run in order; a stage without a group is skipped; in a
    /// stage, the first matching rule decides: permit/deny end the evaluation, the "-and-continue"
    /// actions record a verdict and go on; a stage where no rule matches denies (default deny).
    /// After the last stage the last recorded verdict stands (permit if none was recorded).
    /// </summary>
    internal static bool AclPermits<T>(AclGroup<T>?[] stages, T src, T dst, in ParsedPacket p)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        bool recorded = true;
        for (int s = 0; s < stages.Length; s++)
        {
            AclGroup<T>? group = stages[s];
            if (group is null)
            {
                continue;
            }

            int rule = group.Classify(src, dst, p.L4Protocol, p.SrcPort, p.DstPort);
            if (AclStep(rule < 0 ? null : group.RuleAt(rule).Action, ref recorded) is bool final)
            {
                return final;
            }
        }

        return recorded;
    }

    /// <summary>
    /// One stage's effect on an evaluation: the final verdict (permit/deny, or deny when no rule
    /// matched: default deny), or null to go on with <paramref name="recorded"/> updated by an
    /// "-and-continue" rule.
    /// </summary>
    internal static bool? AclStep(AclAction? matched, ref bool recorded)
    {
        switch (matched)
        {
            case null:
                return false;
            case AclAction.Permit:
                return true;
            case AclAction.Deny:
                return false;
            case AclAction.PermitAndContinue:
                recorded = true;
                return null;
            default:
                recorded = false;
                return null;
        }
    }
}
