using System.Security.Cryptography;
using System.Text;

namespace SnicRuntime.Contracts.Plans;

/// <summary>
/// What a plan says, without its number: SHA-256 of its canonical JSON with the generation left
/// out. The management plane and the card compute it the same way, so "this card already runs
/// this content" is known without sending it — a controller that takes over mid-delivery does not
/// apply a change twice.
/// </summary>
public static class PlanDigest
{
    public static string Of(ChangePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        long? generation = plan.Generation;
        plan.Generation = null;
        try
        {
            return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(PlanJson.Write(plan))));
        }
        finally
        {
            plan.Generation = generation;
        }
    }
}
