using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Acl;
using SnicRuntime.Firmware.Encap;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Pipeline;

/// <summary>ACL stage ordering (every action in every position) and ECMP consistency, below the packet level.</summary>
public sealed class StageSemanticsTests
{
    private static AclGroup<uint>? Stage(AclAction? action) =>
        action is AclAction a ? new AclGroup<uint>("s", [new AclRule<uint>(1, a, [], [], [], [], [])]) : null;

    private static AclGroup<uint> NoMatch() => new("none", [new AclRule<uint>(1, AclAction.Permit, [], [], [99], [], [])]);

    public static TheoryData<AclAction?, AclAction?, AclAction?, bool> Orderings()
    {
        var data = new TheoryData<AclAction?, AclAction?, AclAction?, bool>();
        AclAction?[] all = [null, AclAction.Permit, AclAction.Deny, AclAction.PermitAndContinue, AclAction.DenyAndContinue];
        foreach (AclAction? s1 in all)
        {
            foreach (AclAction? s2 in all)
            {
                foreach (AclAction? s3 in all)
                {
                    data.Add(s1, s2, s3, Expected(s1, s2, s3));
                }
            }
        }

        return data;
    }

    // The semantics written out independently of the implementation's loop.
    private static bool Expected(params AclAction?[] stages)
    {
        bool? recorded = null;
        foreach (AclAction? s in stages)
        {
            if (s == AclAction.Permit)
            {
                return true;
            }

            if (s == AclAction.Deny)
            {
                return false;
            }

            if (s is not null)
            {
                recorded = s == AclAction.PermitAndContinue;
            }
        }

        return recorded ?? true;
    }

    [Theory]
    [MemberData(nameof(Orderings))]
    public void Stages_run_in_order_and_the_first_terminating_verdict_wins(AclAction? s1, AclAction? s2, AclAction? s3, bool permitted)
    {
        var packet = new ParsedPacket { L4Protocol = 17 };
        Assert.Equal(permitted, PolicyPipeline.AclPermits([Stage(s1), Stage(s2), Stage(s3)], 1u, 2u, in packet));
    }

    [Fact]
    public void A_stage_where_no_rule_matches_denies()
    {
        var packet = new ParsedPacket { L4Protocol = 17 };
        Assert.False(PolicyPipeline.AclPermits([Stage(AclAction.PermitAndContinue), NoMatch(), Stage(AclAction.Permit)], 1u, 2u, in packet));
        Assert.True(PolicyPipeline.AclPermits(new AclGroup<uint>?[3], 1u, 2u, in packet)); // no ACL at all
    }

    [Fact]
    public void Ecmp_removing_a_member_moves_only_the_flows_it_had()
    {
        var actions = new ActionTable(Enumerable.Range(0, 5)
            .Select(i => new TunnelAction(TunnelActionKind.Encap, EncapKind.Vxlan, 0xAC100300u + (uint)i, 1, 0)).ToArray());
        int[] five = [0, 1, 2, 3, 4];
        int[] four = [0, 1, 3, 4]; // member 2 removed
        TestSeeds.Run(9, rng =>
        {
            int moved = 0, had2 = 0;
            for (int f = 0; f < 20_000; f++)
            {
                uint hash = (uint)rng.Next() ^ (uint)rng.Next() << 16;
                int before = five[PolicyPipeline.EcmpMember(hash, five, actions)];
                int after = four[PolicyPipeline.EcmpMember(hash, four, actions)];
                Assert.Equal(before, five[PolicyPipeline.EcmpMember(hash, five, actions)]); // same flow, same member
                if (before == 2)
                {
                    had2++;
                }
                else
                {
                    Assert.Equal(before, after); // flows of the other members stay put
                }

                moved += before != after ? 1 : 0;
            }

            Assert.Equal(had2, moved);
            Assert.InRange(had2, 3_400, 4_600); // about a fifth
        });
    }
}
