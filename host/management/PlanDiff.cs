using System.Text.Json;
using System.Text.Json.Nodes;

namespace SnicRuntime.Management;

/// <summary>One difference between two plans: an object added (+), removed (-) or changed (~), named by kind and key.</summary>
public readonly record struct PlanChange(char Kind, string Section, string Key)
{
    public override string ToString() => $"{Kind} {Section} {Key}";
}

/// <summary>
/// What changed between two change plans, object by object: list entries are matched by their
/// identity in the DASH model (a VNET by name, a mapping by VNET and address, a direction entry by
/// VNI, ...), so reordering a list is not a change and a changed field names its object.
/// </summary>
public static class PlanDiff
{
    private static readonly Dictionary<string, Func<JsonNode, string>> s_keys = new(StringComparer.Ordinal)
    {
        ["vnets"] = n => Str(n, "name"),
        ["enis"] = n => Str(n, "name"),
        ["acl_groups"] = n => Str(n, "name"),
        ["route_tables"] = n => Str(n, "name"),
        ["ecmp_groups"] = n => Str(n, "name"),
        ["service_tunnels"] = n => Str(n, "name"),
        ["meter_classes"] = n => Str(n, "id"),
        ["direction_lookup"] = n => Str(n, "vni"),
        ["mappings"] = n => $"{Str(n, "vnet")}/{Str(n, "ip")}",
    };

    public static IReadOnlyList<PlanChange> Compare(string before, string after)
    {
        var options = new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip };
        JsonObject a = JsonNode.Parse(before, documentOptions: options)?.AsObject() ?? [];
        JsonObject b = JsonNode.Parse(after, documentOptions: options)?.AsObject() ?? [];
        var changes = new List<PlanChange>();
        foreach (string section in a.Select(p => p.Key).Union(b.Select(p => p.Key)).Where(k => k != "generation").Order(StringComparer.Ordinal))
        {
            JsonNode? x = a[section], y = b[section];
            if (s_keys.TryGetValue(section, out Func<JsonNode, string>? key) && (x is JsonArray || y is JsonArray))
            {
                Dictionary<string, JsonNode> left = Index(x as JsonArray, key), right = Index(y as JsonArray, key);
                foreach (string k in left.Keys.Union(right.Keys).Order(StringComparer.Ordinal))
                {
                    bool inLeft = left.TryGetValue(k, out JsonNode? l), inRight = right.TryGetValue(k, out JsonNode? r);
                    if (!inRight)
                    {
                        changes.Add(new PlanChange('-', section, k));
                    }
                    else if (!inLeft)
                    {
                        changes.Add(new PlanChange('+', section, k));
                    }
                    else if (!JsonNode.DeepEquals(l, r))
                    {
                        changes.Add(new PlanChange('~', section, k));
                    }
                }
            }
            else if (!JsonNode.DeepEquals(x, y))
            {
                changes.Add(new PlanChange(x is null ? '+' : y is null ? '-' : '~', section, ""));
            }
        }

        return changes;
    }

    private static Dictionary<string, JsonNode> Index(JsonArray? list, Func<JsonNode, string> key)
    {
        var map = new Dictionary<string, JsonNode>(StringComparer.Ordinal);
        foreach (JsonNode? n in list ?? [])
        {
            if (n is not null)
            {
                map[key(n)] = n;
            }
        }

        return map;
    }

    private static string Str(JsonNode n, string field) => n[field]?.ToJsonString().Trim('"') ?? "?";
}
