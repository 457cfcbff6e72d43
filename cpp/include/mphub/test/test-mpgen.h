// mphub: adjustments that let libmultiprocess's generated client code (mpgen, commit
// 67302cd) handle schema/test/test.capnp. Included from the end of mphub/test/test.h
// whenever mpgen's output for the schema is on the include path: the generated
// test.capnp.proxy.h includes test.h (its $Proxy.include) before it defines the
// ProxyClient classes, and a specialization used by those classes must come first.
// The server-side counterparts live in test-types.h. Nothing here changes the wire.

#ifndef MPHUB_TEST_TEST_MPGEN_H
#define MPHUB_TEST_TEST_MPGEN_H

#include <mphub/test/test.capnp.h>
#include <mphub/test/test.h>

#include <mp/proxy.h>

#include <cstdint>
#include <type_traits>

namespace mp {

//! Tester.divide @12 (context, a, b, wantRemainder) -> (result, remainder).
//!
//! The generated ProxyClient<Tester>::divide walks the method's fields in schema order
//! (a, b, result, remainder) and takes their C++ types positionally from
//! ProxyClientMethodTraits<...>::Fields, which by default is "parameters, then return
//! type": (a, b, remainder*, result). That only lines up when `result` is the last
//! result field, as in Bitcoin Core's schemas; here it is @0 and cannot move without
//! changing the wire format. This specialization lists the types in field order
//! instead. (The server side takes only the parameter types from these traits; its
//! own adjustment for this method is in test-types.h.)
template <>
struct ProxyClientMethodTraits<mphub::test::messages::Tester::DivideParams>
    : public FunctionTraits<std::add_const_t<decltype(&mphub::test::Tester::divide)>>
{
    using Fields = TypeList<int32_t, int32_t, int32_t, int32_t*>;
};

} // namespace mp

#endif // MPHUB_TEST_TEST_MPGEN_H
